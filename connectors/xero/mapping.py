"""xero-python model objects -> Cashline domain types (pure; no I/O).

The SDK already turns ``/Date(ms+0000)/`` into dates/datetimes and amounts into Decimals; this module
normalises the rest (enums, naive datetimes, missing amounts) so nothing SDK-shaped leaks out.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from addon.domain.types import (
    Allocation,
    BankTransaction,
    BankTransactionKind,
    Contact,
    CreditNote,
    Invoice,
    InvoiceStatus,
    Payment,
)
from connectors.countries import country_code

ZERO = Decimal("0")
# Precision of a converted rate (the domain's ``Invoice.home_rate``): a JPY invoice in a GBP organisation
# has a rate near 0.005, so ten places keep eight significant digits.
RATE_PLACES = Decimal("1E-10")

_STATUSES = {
    "DRAFT": InvoiceStatus.DRAFT, "SUBMITTED": InvoiceStatus.OPEN, "AUTHORISED": InvoiceStatus.OPEN,
    "PAID": InvoiceStatus.PAID, "VOIDED": InvoiceStatus.VOIDED, "DELETED": InvoiceStatus.DELETED,
}


def enum_value(value: Any) -> str | None:
    """The string behind an SDK enum (CurrencyCode.GBP -> 'GBP'), or the string itself."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def money(value: Any) -> Decimal:
    """A Decimal amount (the SDK may give Decimal, float or None)."""
    if value is None:
        return ZERO
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def aware(value: datetime | None) -> datetime | None:
    """Xero timestamps are UTC; make naive ones explicit."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_date(value: Any) -> date | None:
    """A date from an SDK date or datetime (None stays None)."""
    if value is None:
        return None
    return value.date() if isinstance(value, datetime) else value  # type: ignore[no-any-return]


def invoice_status(status: Any) -> InvoiceStatus:
    """Xero invoice status -> platform-neutral status."""
    return _STATUSES[enum_value(status) or "DRAFT"]


def to_contact(c: Any) -> Contact:
    """SDK Contact -> domain Contact."""
    emails = tuple(e for e in [c.email_address] if e)
    banks = tuple(b for b in [c.bank_account_details] if b)
    return Contact(remote_id=str(c.contact_id), name=c.name or "", emails=emails,
                   currency=enum_value(c.default_currency), archived=enum_value(c.contact_status) == "ARCHIVED",
                   updated_at=aware(c.updated_date_utc), bank_accounts=banks, mobile=contact_phone(c.phones),
                   country=contact_country(c.addresses))


def contact_country(addresses: Any) -> str | None:
    """The contact's country from its Addresses: the POBOX one (Xero's postal address, where invoices go)
    first, else the STREET one. ``Country`` is free text ("United Kingdom", "UK", "Deutschland"); one that
    names no single country counts as none, and the other address is tried."""
    by_type: dict[str, list[Any]] = {}
    for address in addresses or ():
        by_type.setdefault(enum_value(address.address_type) or "", []).append(address.country)
    for kind in ("POBOX", "STREET"):
        for text in by_type.get(kind, ()):
            code = country_code(text)
            if code is not None:
                return code
    return None


def contact_phone(phones: Any) -> str | None:
    """The number to text from a contact's Phones: the MOBILE one, else the DEFAULT one, as free text
    ("+44 7911 123456" with a country code, "07911 123456" without); the mirror reads it in the tenant's
    country when it has no country code."""
    by_type: dict[str, str] = {}
    for phone in phones or ():
        parts = [str(p).strip() for p in (phone.phone_area_code, phone.phone_number) if p and str(p).strip()]
        if not parts:
            continue
        country = str(phone.phone_country_code or "").strip().lstrip("+")
        text = f"+{country} {' '.join(parts)}" if country else " ".join(parts)
        by_type.setdefault(enum_value(phone.phone_type) or "", text)
    return by_type.get("MOBILE") or by_type.get("DEFAULT")


def home_rate(currency_rate: Any) -> Decimal | None:
    """Xero's CurrencyRate (units of the invoice currency per 1 unit of the base currency) turned round
    into the domain's direction: units of the base currency per 1 unit of the invoice currency. None
    when Xero gave no usable rate (absent, zero or negative): a missing rate is never guessed."""
    if currency_rate is None:
        return None
    rate = money(currency_rate)
    if not rate.is_finite() or rate <= 0:
        return None
    return (Decimal(1) / rate).quantize(RATE_PLACES)


def to_invoice(i: Any) -> Invoice:
    """SDK Invoice -> domain Invoice (ACCREC)."""
    return Invoice(
        remote_id=str(i.invoice_id), number=i.invoice_number or "", contact_id=str(i.contact.contact_id),
        currency=enum_value(i.currency_code) or "", issue_date=as_date(i.date) or date.min,
        due_date=as_date(i.due_date) or as_date(i.date) or date.min, total=money(i.total),
        amount_due=money(i.amount_due), status=invoice_status(i.status), amount_paid=money(i.amount_paid),
        amount_credited=money(i.amount_credited), updated_at=aware(i.updated_date_utc),
        sent=bool(i.sent_to_contact), fully_paid_on=as_date(i.fully_paid_on_date),
        reference=i.reference or None, home_rate=home_rate(i.currency_rate))


def to_payment(p: Any) -> Payment:
    """SDK Payment (one invoice) -> domain Payment with one allocation."""
    invoice = p.invoice
    contact = getattr(invoice, "contact", None) if invoice is not None else None
    allocations = (Allocation(str(invoice.invoice_id), money(p.amount)),) if invoice is not None else ()
    return Payment(remote_id=str(p.payment_id), contact_id=str(contact.contact_id) if contact else None,
                   date=as_date(p.date) or date.min, amount=money(p.amount),
                   currency=enum_value(getattr(invoice, "currency_code", None)) or "", allocations=allocations,
                   reference=p.reference or None, deleted=enum_value(p.status) == "DELETED",
                   updated_at=aware(p.updated_date_utc))


def to_credit_note(n: Any) -> CreditNote:
    """SDK CreditNote -> domain CreditNote with its allocations."""
    allocations = tuple(Allocation(str(a.invoice.invoice_id), money(a.amount)) for a in (n.allocations or [])
                        if a.invoice is not None)
    return CreditNote(remote_id=str(n.credit_note_id), number=n.credit_note_number,
                      contact_id=str(n.contact.contact_id),
                      date=as_date(n.date) or date.min, currency=enum_value(n.currency_code) or "",
                      total=money(n.total), remaining=money(n.remaining_credit), allocations=allocations,
                      voided=enum_value(n.status) in ("VOIDED", "DELETED"), reason=n.reference or None,
                      updated_at=aware(n.updated_date_utc))


def to_bank_transaction(t: Any) -> BankTransaction:
    """A SPEND or RECEIVE bank transaction (single-account lines: the first line's account)."""
    lines = t.line_items or []
    return BankTransaction(
        remote_id=str(t.bank_transaction_id),
        kind=BankTransactionKind.SPEND if enum_value(t.type) == "SPEND" else BankTransactionKind.RECEIVE,
        contact_id=str(t.contact.contact_id) if t.contact else None, date=as_date(t.date) or date.min,
        currency=enum_value(t.currency_code) or "", amount=money(t.total),
        account_code=str(lines[0].account_code) if lines else "",
        bank_account_code=str(t.bank_account.code) if t.bank_account else "")
