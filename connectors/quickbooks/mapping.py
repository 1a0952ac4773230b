"""Pure QBO JSON -> domain mapping (amounts arrive as Decimal or int; never via float)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from addon.domain.types import (
    Allocation,
    AppliedCredit,
    Contact,
    CreditApplication,
    CreditNote,
    Invoice,
    InvoiceStatus,
    Payment,
)
from connectors.countries import country_code

ZERO = Decimal("0")
Json = dict[str, Any]


def money(value: Any) -> Decimal:
    """A JSON amount (Decimal with use_decimal, int, or numeric string) as a 2-dp Decimal."""
    if value in (None, ""):
        return ZERO
    return Decimal(str(value)).quantize(Decimal("0.01"))


def ref(entity: Json, key: str) -> str | None:
    """The ``value`` of a ReferenceType element."""
    value = entity.get(key)
    return str(value["value"]) if isinstance(value, dict) and value.get("value") is not None else None


def parse_date(value: Any) -> date | None:
    """``YYYY-MM-DD`` (or a longer ISO string) as a date; None when absent."""
    return date.fromisoformat(str(value)[:10]) if value else None


def updated_at(entity: Json) -> datetime | None:
    """MetaData.LastUpdatedTime as an aware UTC datetime."""
    stamp = (entity.get("MetaData") or {}).get("LastUpdatedTime")
    if not stamp:
        return None
    moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def is_voided(entity: Json) -> bool:
    """QBO voids by zeroing the amounts and writing "Voided" into the private note."""
    note = str(entity.get("PrivateNote") or "")
    return entity.get("TxnStatus") == "Voided" or (money(entity.get("TotalAmt")) == 0 and note.startswith("Voided"))


def to_contact(customer: Json) -> Contact:
    """Customer -> Contact."""
    email = (customer.get("PrimaryEmailAddr") or {}).get("Address")
    return Contact(remote_id=str(customer["Id"]), name=str(customer.get("DisplayName") or ""),
                   emails=(str(email),) if email else (), currency=ref(customer, "CurrencyRef"),
                   archived=customer.get("Active") is False, updated_at=updated_at(customer),
                   mobile=_phone(customer, "Mobile") or _phone(customer, "PrimaryPhone"),
                   country=customer_country(customer))


def customer_country(customer: Json) -> str | None:
    """The customer's country: its billing address's ``Country`` (free text: "United States", "USA", "UK"),
    else its shipping address's. ``CountrySubDivisionCode`` (a state or province: "CA" is California there)
    is never read as a country."""
    for field in ("BillAddr", "ShipAddr"):
        code = country_code((customer.get(field) or {}).get("Country"))
        if code is not None:
            return code
    return None


def _phone(customer: Json, field: str) -> str | None:
    """A TelephoneNumber's FreeFormNumber (read in the tenant's country by the mirror)."""
    number = str((customer.get(field) or {}).get("FreeFormNumber") or "").strip()
    return number or None


def exchange_rate(entity: Json) -> Decimal | None:
    """QBO's ExchangeRate: units of the home currency per 1 unit of the transaction's currency, the
    domain's direction already. None when absent (multicurrency off) or not positive: never guessed."""
    value = entity.get("ExchangeRate")
    if value in (None, ""):
        return None
    try:
        rate = Decimal(str(value))
    except ArithmeticError:
        return None
    return rate if rate.is_finite() and rate > 0 else None


def home_currency_of(preferences: Json) -> str | None:
    """Preferences.CurrencyPrefs.HomeCurrency (QBO fills it in whether multicurrency is on or not)."""
    return ref(preferences.get("CurrencyPrefs") or {}, "HomeCurrency")


def country_of(company_info: Json) -> str | None:
    """The company's ISO 3166 country: CompanyInfo.Country ("US", "CA", "GB", "AU" from the regional
    editions), else the country of its company or legal address (free text such as "United States")."""
    for value in (company_info.get("Country"), (company_info.get("CompanyAddr") or {}).get("Country"),
                  (company_info.get("LegalAddr") or {}).get("Country")):
        code = country_code(value)
        if code is not None:
            return code
    return None


def to_invoice(invoice: Json, home_currency: str) -> Invoice:
    """Invoice -> Invoice. QBO keeps one Balance, so amount_paid covers payments and applied credits."""
    total, balance = money(invoice.get("TotalAmt")), money(invoice.get("Balance"))
    if is_voided(invoice):
        status = InvoiceStatus.VOIDED
    elif balance == 0:
        status = InvoiceStatus.PAID
    else:
        status = InvoiceStatus.OPEN
    issued = parse_date(invoice.get("TxnDate")) or date(1970, 1, 1)
    return Invoice(
        remote_id=str(invoice["Id"]), number=str(invoice.get("DocNumber") or invoice["Id"]),
        contact_id=ref(invoice, "CustomerRef") or "", currency=ref(invoice, "CurrencyRef") or home_currency,
        issue_date=issued, due_date=parse_date(invoice.get("DueDate")) or issued, total=total,
        amount_due=balance, status=status, amount_paid=total - balance, updated_at=updated_at(invoice),
        sent=invoice.get("EmailStatus") == "EmailSent",
        billing_email=(invoice.get("BillEmail") or {}).get("Address") or None,
        online_url=invoice.get("InvoiceLink") or None, note=invoice.get("PrivateNote") or None,
        home_rate=exchange_rate(invoice))


def allocations(payment: Json, txn_type: str = "Invoice") -> tuple[Allocation, ...]:
    """Payment lines linked to transactions of ``txn_type`` as allocations."""
    out = []
    for line in payment.get("Line") or []:
        for link in line.get("LinkedTxn") or []:
            if link.get("TxnType") == txn_type:
                out.append(Allocation(invoice_id=str(link["TxnId"]), amount=money(line.get("Amount"))))
    return tuple(out)


def is_credit_application(payment: Json) -> bool:
    """A zero-amount Payment that only moves credit-memo credit onto invoices (QBO's way to apply one)."""
    return money(payment.get("TotalAmt")) == 0 and bool(allocations(payment, "CreditMemo"))


def split_credit(payment: Json) -> tuple[tuple[Allocation, ...], tuple[AppliedCredit, ...]]:
    """A Payment's invoice lines split into money received and credit-memo credit applied.

    QBO records one Payment whose invoice lines are paid partly by money (TotalAmt) and partly by the
    credit of its CreditMemo lines, without saying which memo went to which invoice. The memos are laid
    onto the invoice lines in line order (a single memo and a single invoice, what QBO's UI and our
    create_credit_note send, is exact); what the memos do not cover is the money's allocation.
    """
    invoices = [a.invoice_id for a in allocations(payment)]
    open_amounts = [a.amount for a in allocations(payment)]
    credits: list[AppliedCredit] = []
    for memo in allocations(payment, "CreditMemo"):
        left = memo.amount
        for n, invoice_id in enumerate(invoices):
            take = min(left, open_amounts[n])
            if take > 0:
                credits.append(AppliedCredit(credit_note_id=memo.invoice_id, invoice_id=invoice_id, amount=take))
                open_amounts[n] -= take
                left -= take
    cash = tuple(Allocation(invoice_id=i, amount=amt) for i, amt in zip(invoices, open_amounts, strict=True)
                 if amt > 0)
    return cash, tuple(credits)


def to_credit_application(payment: Json) -> CreditApplication | None:
    """The credit a Payment applies, dated by its TxnDate; None for a plain payment.

    A voided or deleted payment gives an application with ``deleted=True`` even though QBO has cleared its
    lines by then: it may have applied credit before, and the mirror must drop what it applied.
    """
    gone = payment.get("status") == "Deleted" or is_voided(payment)
    credits = () if gone else split_credit(payment)[1]
    if not credits and not gone:
        return None
    return CreditApplication(remote_id=str(payment["Id"]), date=parse_date(payment.get("TxnDate")) or date(1970, 1, 1),
                             credits=credits, deleted=gone, updated_at=updated_at(payment))


def to_payment(payment: Json, home_currency: str) -> Payment:
    """Payment -> Payment (voided and deleted payments come back with ``deleted=True``). Its allocations are
    the money's: what CreditMemo lines on the same payment paid is a CreditApplication (split_credit)."""
    return Payment(remote_id=str(payment["Id"]), contact_id=ref(payment, "CustomerRef"),
                   date=parse_date(payment.get("TxnDate")) or date(1970, 1, 1),
                   amount=money(payment.get("TotalAmt")),
                   currency=ref(payment, "CurrencyRef") or home_currency, allocations=split_credit(payment)[0],
                   unapplied_amount=money(payment.get("UnappliedAmt")),
                   reference=payment.get("PaymentRefNum") or None,
                   deleted=payment.get("status") == "Deleted" or is_voided(payment),
                   updated_at=updated_at(payment))


def to_credit_note(memo: Json, home_currency: str,
                   applied: tuple[Allocation, ...] = ()) -> CreditNote:
    """CreditMemo -> CreditNote (allocations live on the Payments that apply it)."""
    reason = (memo.get("CustomerMemo") or {}).get("value") or memo.get("PrivateNote") or None
    return CreditNote(remote_id=str(memo["Id"]), number=memo.get("DocNumber") or None,
                      contact_id=ref(memo, "CustomerRef") or "",
                      date=parse_date(memo.get("TxnDate")) or date(1970, 1, 1),
                      currency=ref(memo, "CurrencyRef") or home_currency, total=money(memo.get("TotalAmt")),
                      remaining=money(memo.get("RemainingCredit")), allocations=applied,
                      voided=is_voided(memo), reason=reason, updated_at=updated_at(memo))


def risk_field_definition(preferences: Json, name: str) -> str | None:
    """DefinitionId of the enabled sales-form custom field called ``name`` (case-insensitive), if any."""
    groups = ((preferences.get("SalesFormsPrefs") or {}).get("CustomField")) or []
    names: dict[str, str] = {}
    enabled: set[str] = set()
    for group in groups:
        for item in (group or {}).get("CustomField") or []:
            key = str(item.get("Name") or "")
            if key.startswith("SalesFormsPrefs.SalesCustomName"):
                names[key.removeprefix("SalesFormsPrefs.SalesCustomName")] = str(item.get("StringValue") or "")
            elif key.startswith("SalesFormsPrefs.UseSalesCustom") and item.get("BooleanValue"):
                enabled.add(key.removeprefix("SalesFormsPrefs.UseSalesCustom"))
    for definition, label in sorted(names.items()):
        if definition in enabled and label.casefold() == name.casefold():
            return definition
    return None
