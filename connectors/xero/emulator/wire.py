"""Records -> Xero's JSON shapes, and Xero's request/response date formats.

Serialisers return dicts of native values (``date``, ``datetime``, ``Decimal``) so ``where`` filters can
compare them; ``encode`` then renders dates as ``/Date(ms+0000)/`` and drops nulls, as Xero does.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import simplejson

from connectors.xero.emulator.chart import AccountRecord
from connectors.xero.emulator.clock import stable_id
from connectors.xero.emulator.records import (
    ZERO,
    AllocationRecord,
    BankTransactionRecord,
    BatchPaymentRecord,
    ContactRecord,
    CreditNoteRecord,
    HistoryRecord,
    InvoiceRecord,
    LineItemRecord,
    OverpaymentRecord,
    PaymentRecord,
)
from connectors.xero.emulator.store import OrgStore

_MS_DATE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{2}([0-5]\d))?\)/$")  # the offset's minutes are 00-59
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?)?$")


class BadDateError(ValueError):
    """A request carried a date Xero would not accept."""


def ms_date(value: date | datetime) -> str:
    """``/Date(1546128000000+0000)/`` for a date (midnight UTC) or an aware datetime."""
    moment = value if isinstance(value, datetime) else datetime.combine(value, time(), tzinfo=UTC)
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


def iso_string(value: date | datetime) -> str:
    """The ``DateString`` companion field: local ISO without offset."""
    moment = value if isinstance(value, datetime) else datetime.combine(value, time())
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def parse_request_date(value: Any) -> date:
    """Accept ``YYYY-MM-DD``, ``YYYY-MM-DDThh:mm:ss`` or ``/Date(ms[+hhmm])/``, as Xero does; a day, hour or
    instant that does not exist is a BadDateError (the ms form's offset does not move the UTC instant)."""
    try:
        if isinstance(value, str) and (m := _MS_DATE.match(value)):
            return (_EPOCH + timedelta(milliseconds=int(m.group(1)))).date()
        if isinstance(value, str) and (m := _ISO_DATE.match(value)):
            year, month, day, hour, minute, second = (int(part) for part in m.groups(default="0"))
            return datetime(year, month, day, hour, minute, second).date()
    except (ValueError, OverflowError):
        pass  # an impossible calendar date or time, or an instant past year 9999
    raise BadDateError(f"The date '{value}' is not a valid date.")


def encode(payload: Any) -> bytes:
    """JSON bytes with Xero's date format; Decimals are written as exact JSON numbers."""
    text: str = simplejson.dumps(_render(payload), use_decimal=True)
    return text.encode()


def _render(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _render(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_render(v) for v in value]
    if isinstance(value, date):  # datetime is a date too
        return ms_date(value)
    return value


def contact_ref(store: OrgStore, contact_id: str) -> dict[str, Any]:
    """The short ``Contact`` object embedded in documents."""
    contact = store.contacts.get(contact_id)
    return {"ContactID": contact_id, "Name": contact.name if contact else None}


def contact(rec: ContactRecord) -> dict[str, Any]:
    """A Contact as GET /Contacts returns it."""
    return {
        "ContactID": rec.id, "ContactStatus": rec.status, "Name": rec.name, "EmailAddress": rec.email,
        "AccountNumber": rec.account_number, "BankAccountDetails": rec.bank_account,
        "DefaultCurrency": rec.currency, "IsCustomer": True, "IsSupplier": False,
        "UpdatedDateUTC": rec.updated, "Addresses": [dict(a) for a in rec.addresses],
        "Phones": [dict(p) for p in rec.phones], "ContactGroups": [],
        "ContactPersons": [], "HasAttachments": False, "HasValidationErrors": False,
    }


def _line(seed: int, owner_id: str, description: str, amount: Decimal, account: str = "200") -> dict[str, Any]:
    return {"LineItemID": stable_id(seed, "line", owner_id), "Description": description,
            "Quantity": Decimal("1.0000"), "UnitAmount": amount, "LineAmount": amount,
            "AccountCode": account, "TaxType": "NONE", "TaxAmount": ZERO, "Tracking": []}


def payment_summary(rec: PaymentRecord) -> dict[str, Any]:
    """The short payment embedded in an invoice."""
    return {"PaymentID": rec.id, "Date": rec.date, "Amount": rec.amount, "Reference": rec.reference,
            "CurrencyRate": Decimal("1.0000000000"), "HasAccount": False, "HasValidationErrors": False}


def invoice(store: OrgStore, rec: InvoiceRecord) -> dict[str, Any]:
    """An Invoice as GET /Invoices returns it."""
    notes = [store.credit_notes[a.credit_note_id] for a in rec.allocations]
    return {
        **invoice_header(store, rec),
        "LineItems": [_line(store.seed, rec.id, rec.description, rec.total)],
        "Payments": [payment_summary(p) for p in rec.payments if p.status == "AUTHORISED"],
        "CreditNotes": [{"CreditNoteID": n.id, "CreditNoteNumber": n.number, "Total": n.total,
                         "AppliedAmount": a.amount, "Date": a.date}
                        for n, a in zip(notes, rec.allocations, strict=True)],
        "Prepayments": [], "Overpayments": [],
    }


def invoice_header(store: OrgStore, rec: InvoiceRecord) -> dict[str, Any]:
    """The invoice's scalar fields: what ``where`` filters look at (cheap for 100k-invoice orgs)."""
    return {
        "Type": rec.type, "InvoiceID": rec.id, "InvoiceNumber": rec.number, "Reference": rec.reference or "",
        "Contact": contact_ref(store, rec.contact_id), "Date": rec.date, "DateString": iso_string(rec.date),
        "DueDate": rec.due_date, "DueDateString": iso_string(rec.due_date), "Status": rec.status,
        "LineAmountTypes": "NoTax", "SubTotal": rec.total, "TotalTax": ZERO, "Total": rec.total,
        "AmountDue": rec.amount_due,
        "AmountPaid": rec.amount_paid, "AmountCredited": rec.amount_credited, "CurrencyCode": rec.currency,
        "CurrencyRate": rec.currency_rate, "SentToContact": rec.sent, "IsDiscounted": False,
        "HasAttachments": False, "HasErrors": False, "FullyPaidOnDate": rec.fully_paid_on,
        "UpdatedDateUTC": rec.updated,
    }


def payment(store: OrgStore, rec: PaymentRecord) -> dict[str, Any]:
    """A Payment as GET /Payments returns it."""
    header = payment_header(store, rec)
    return {**header, "Invoice": {**header["Invoice"], "Payments": [], "CreditNotes": [], "Prepayments": [],
                                  "Overpayments": [], "LineItems": []}}


def payment_header(store: OrgStore, rec: PaymentRecord) -> dict[str, Any]:
    """A payment's scalar fields (all of them: ``where`` may name any, e.g. Invoice.Contact.ContactID)."""
    inv = store.invoices[rec.invoice_id]
    return {
        "PaymentID": rec.id, "Date": rec.date, "Amount": rec.amount, "BankAmount": rec.amount,
        "Reference": rec.reference, "CurrencyRate": Decimal("1.0000000000"), "PaymentType": "ACCRECPAYMENT",
        "Status": rec.status, "UpdatedDateUTC": rec.updated, "HasAccount": True, "IsReconciled": False,
        "HasValidationErrors": False, "BatchPaymentID": rec.batch_id,
        "Account": {"AccountID": stable_id(store.seed, "account", rec.account_code), "Code": rec.account_code},
        "Invoice": {"Type": inv.type, "InvoiceID": inv.id, "InvoiceNumber": inv.number,
                    "Contact": contact_ref(store, inv.contact_id), "CurrencyCode": inv.currency,
                    "HasErrors": False, "IsDiscounted": False},
    }


def batch_payment(store: OrgStore, rec: BatchPaymentRecord) -> dict[str, Any]:
    """A BatchPayment as GET /BatchPayments returns it (RECBATCH: the emulator has sales invoices only). A
    deleted one lists no payments but keeps its TotalAmount, as in the spec's example."""
    return {
        "Account": {"AccountID": stable_id(store.seed, "account", rec.account_code), "Code": rec.account_code,
                    "CurrencyCode": store.base_currency},
        "Reference": rec.reference, "BatchPaymentID": rec.id, "DateString": iso_string(rec.date), "Date": rec.date,
        "Payments": [_batch_item(store, p) for p in rec.payments if p.status == "AUTHORISED"],
        "Type": "RECBATCH", "Status": rec.status, "TotalAmount": rec.total, "UpdatedDateUTC": rec.updated,
        "IsReconciled": False,
    }


def _batch_item(store: OrgStore, rec: PaymentRecord) -> dict[str, Any]:
    inv = store.invoices[rec.invoice_id]
    return {"Invoice": {"InvoiceID": inv.id, "InvoiceNumber": inv.number, "CurrencyCode": inv.currency,
                        "Payments": [], "CreditNotes": [], "Prepayments": [], "Overpayments": [],
                        "HasErrors": False, "IsDiscounted": False, "LineItems": []},
            "PaymentID": rec.id, "Reference": rec.reference, "Amount": rec.amount, "BankAmount": rec.amount}


def credit_note_header(store: OrgStore, rec: CreditNoteRecord) -> dict[str, Any]:
    """A credit note's scalar fields (all of them: ``where`` may name any, e.g. Contact.Name)."""
    fully = max((a.date for a in rec.allocations), default=None) if rec.status == "PAID" else None
    return {
        "Type": "ACCRECCREDIT", "CreditNoteID": rec.id, "CreditNoteNumber": rec.number,
        "Reference": rec.reference, "Contact": contact_ref(store, rec.contact_id), "Date": rec.date,
        "DateString": iso_string(rec.date), "Status": rec.status, "LineAmountTypes": "NoTax",
        "SubTotal": rec.total, "TotalTax": ZERO, "Total": rec.total, "RemainingCredit": rec.remaining,
        "CurrencyCode": rec.currency, "CurrencyRate": Decimal("1.0000000000"), "SentToContact": False,
        "UpdatedDateUTC": rec.updated, "FullyPaidOnDate": fully, "HasAttachments": False, "HasErrors": False,
    }


def allocation(store: OrgStore, rec: AllocationRecord) -> dict[str, Any]:
    """A credit-note Allocation."""
    inv = store.invoices[rec.invoice_id]
    return {"AllocationID": rec.id, "Amount": rec.amount, "Date": rec.date, "IsDeleted": False,
            "Invoice": {"InvoiceID": inv.id, "InvoiceNumber": inv.number, "Payments": [], "CreditNotes": [],
                        "Prepayments": [], "Overpayments": [], "HasErrors": False, "IsDiscounted": False,
                        "LineItems": []}}


def credit_note(store: OrgStore, rec: CreditNoteRecord) -> dict[str, Any]:
    """A CreditNote as GET /CreditNotes returns it."""
    return {
        **credit_note_header(store, rec),
        "LineItems": [_line(store.seed, rec.id, rec.reference or "Credit", rec.total)],
        "Allocations": [allocation(store, a) for a in rec.allocations], "Payments": [],
    }


def history(rec: HistoryRecord) -> dict[str, Any]:
    """A HistoryRecord."""
    return {"Changes": rec.changes, "DateUTCString": iso_string(rec.date_utc), "DateUTC": rec.date_utc,
            "User": rec.user, "Details": rec.details}


def _line_item(seed: int, owner_id: str, n: int, line: LineItemRecord) -> dict[str, Any]:
    return _line(seed, f"{owner_id}:{n}", line.description, line.amount, line.account_code)


def bank_transaction(store: OrgStore, rec: BankTransactionRecord) -> dict[str, Any]:
    """A BankTransaction as GET /BankTransactions returns it."""
    return {
        "BankTransactionID": rec.id, "Type": rec.type, "Contact": contact_ref(store, rec.contact_id),
        "Date": rec.date, "DateString": iso_string(rec.date), "Status": rec.status, "Reference": rec.reference,
        "LineAmountTypes": "NoTax",
        "LineItems": [_line_item(store.seed, rec.id, n, line) for n, line in enumerate(rec.lines)],
        "SubTotal": rec.total, "TotalTax": ZERO, "Total": rec.total, "CurrencyCode": rec.currency,
        "CurrencyRate": Decimal("1.0000000000"), "IsReconciled": False, "HasAttachments": False,
        "BankAccount": account_ref(store, rec.bank_account_code), "OverpaymentID": rec.overpayment_id,
        "UpdatedDateUTC": rec.updated,
    }


def overpayment(store: OrgStore, rec: OverpaymentRecord) -> dict[str, Any]:
    """An Overpayment as GET /Overpayments returns it."""
    txn = store.bank_transactions[rec.bank_transaction_id]
    return {
        "OverpaymentID": rec.id, "ID": rec.id, "Type": "RECEIVE-OVERPAYMENT", "Reference": rec.reference,
        "RemainingCredit": rec.remaining, "Allocations": [], "Payments": [], "HasAttachments": False,
        "Contact": contact_ref(store, rec.contact_id), "Date": rec.date, "DateString": iso_string(rec.date),
        "Status": rec.status, "LineAmountTypes": "NoTax",
        "LineItems": [_line_item(store.seed, txn.id, n, line) for n, line in enumerate(txn.lines)],
        "SubTotal": rec.total, "TotalTax": ZERO, "Total": rec.total, "CurrencyCode": rec.currency,
        "CurrencyRate": Decimal("1.0000000000"), "UpdatedDateUTC": rec.updated,
    }


# Names for the currencies organisations usually add; any other code is described by itself.
CURRENCY_NAMES = {"AUD": "Australian Dollar", "CAD": "Canadian Dollar", "CHF": "Swiss Franc", "EUR": "Euro",
                  "GBP": "British Pound", "JPY": "Japanese Yen", "NZD": "New Zealand Dollar",
                  "USD": "United States Dollar", "ZAR": "South African Rand"}


def currency(code: str) -> dict[str, Any]:
    """A Currency as GET /Currencies returns it."""
    return {"Code": code, "Description": CURRENCY_NAMES.get(code, code)}


# Xero's organisation "Version" (its tax/edition flavour) per country; everything else is GLOBAL.
_VERSIONS = {"GB": "UK", "US": "US", "AU": "AU", "NZ": "NZ"}
# Xero's Windows-style time zone names (the spec's TimeZone enum), per country; GMT otherwise.
_TIMEZONES = {"US": "EASTERNSTANDARDTIME", "AU": "AUSEASTERNSTANDARDTIME", "NZ": "NEWZEALANDSTANDARDTIME",
              "ZA": "SOUTHAFRICASTANDARDTIME", "JP": "TOKYOSTANDARDTIME"}


def organisation(store: OrgStore) -> dict[str, Any]:
    """The Organisation as GET /Organisation returns it (the spec's fields; no address, phone or links)."""
    return {
        "Name": store.name, "LegalName": store.name, "PaysTax": True,
        "Version": _VERSIONS.get(store.country_code, "GLOBAL"), "OrganisationType": "COMPANY",
        "BaseCurrency": store.base_currency, "CountryCode": store.country_code, "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE", "FinancialYearEndDay": 31, "FinancialYearEndMonth": 3,
        "SalesTaxBasis": "ACCRUALS", "SalesTaxPeriod": "QUARTERLY", "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Exclusive", "CreatedDateUTC": datetime(2020, 1, 1, tzinfo=UTC),
        "OrganisationEntityType": "COMPANY", "Timezone": _TIMEZONES.get(store.country_code, "GMTSTANDARDTIME"),
        "ShortCode": "!" + store.tenant_id.replace("-", "")[:5], "OrganisationID": store.tenant_id,
        "Edition": "BUSINESS", "Class": "PREMIUM", "Addresses": [], "Phones": [], "ExternalLinks": [],
        "PaymentTerms": {},
    }


def account_ref(store: OrgStore, code: str) -> dict[str, Any]:
    """The short account embedded in payments and bank transactions."""
    account = store.accounts.get(code)
    return {"AccountID": stable_id(store.seed, "account", code), "Code": code,
            "Name": account.name if account else None}


def account(store: OrgStore, rec: AccountRecord) -> dict[str, Any]:
    """An Account as GET /Accounts returns it."""
    return {"AccountID": stable_id(store.seed, "account", rec.code), "Code": rec.code, "Name": rec.name,
            "Type": rec.type, "Status": rec.status, "TaxType": rec.tax_type, "Class": _account_class(rec.type),
            "SystemAccount": rec.system_account, "EnablePaymentsToAccount": False,
            "ShowInExpenseClaims": False, "BankAccountType": "BANK" if rec.is_bank else None,
            "ReportingCode": None, "HasAttachments": False, "UpdatedDateUTC": store.clock.now()}


def _account_class(kind: str) -> str:
    return {"BANK": "ASSET", "CURRENT": "ASSET", "REVENUE": "REVENUE", "EXPENSE": "EXPENSE",
            "CURRLIAB": "LIABILITY"}.get(kind, "ASSET")
