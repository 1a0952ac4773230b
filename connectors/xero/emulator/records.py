"""The emulated organisation's entities, held as plain mutable records (not wire JSON).

Amounts that Xero derives (AmountDue, AmountPaid, AmountCredited, RemainingCredit) are computed from
the payments and allocations that exist, so they can never drift apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal("0")


@dataclass
class ContactRecord:
    id: str
    name: str
    email: str | None
    currency: str
    updated: dt.datetime
    status: str = "ACTIVE"
    bank_account: str | None = None
    account_number: str | None = None
    # Phones as Xero holds them: dicts with PhoneType (DEFAULT/DDI/MOBILE/FAX/OFFICE), PhoneCountryCode,
    # PhoneAreaCode, PhoneNumber.
    phones: list[dict[str, str]] = field(default_factory=list)
    # Addresses as Xero holds them: dicts with AddressType (POBOX, the postal address, or STREET), AddressLine1-4,
    # City, Region, PostalCode, Country (free text), AttentionTo.
    addresses: list[dict[str, str]] = field(default_factory=list)


@dataclass
class PaymentRecord:
    id: str
    invoice_id: str
    date: dt.date
    amount: Decimal
    updated: dt.datetime
    reference: str | None = None
    account_code: str = "090"
    status: str = "AUTHORISED"
    batch_id: str | None = None


@dataclass
class BatchPaymentRecord:
    """One bank deposit paying several invoices (RECBATCH): its payments carry its id as BatchPaymentID."""

    id: str
    account_code: str
    date: dt.date
    updated: dt.datetime
    payments: list[PaymentRecord]
    reference: str | None = None
    status: str = "AUTHORISED"

    @property
    def total(self) -> Decimal:
        """TotalAmount: the sum of the payments that make up the batch (all base currency: BankAmount =
        Amount)."""
        return sum((p.amount for p in self.payments), ZERO)


@dataclass
class AllocationRecord:
    id: str
    credit_note_id: str
    invoice_id: str
    amount: Decimal
    date: dt.date


@dataclass
class CreditNoteRecord:
    id: str
    number: str
    contact_id: str
    currency: str
    date: dt.date
    total: Decimal
    updated: dt.datetime
    reference: str | None = None
    status: str = "AUTHORISED"
    allocations: list[AllocationRecord] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        """Credit not yet allocated (zero once voided)."""
        if self.status in ("VOIDED", "DELETED"):
            return ZERO
        return self.total - sum((a.amount for a in self.allocations), ZERO)


@dataclass
class InvoiceRecord:
    id: str
    number: str
    contact_id: str
    currency: str
    date: dt.date
    due_date: dt.date
    total: Decimal
    updated: dt.datetime
    status: str = "AUTHORISED"
    type: str = "ACCREC"
    reference: str | None = None
    sent: bool = False
    description: str = "Services"
    payments: list[PaymentRecord] = field(default_factory=list)
    allocations: list[AllocationRecord] = field(default_factory=list)
    fully_paid_on: dt.date | None = None
    # Xero's CurrencyRate: units of the invoice currency per 1 unit of the organisation's base currency
    # (1 for a base-currency invoice).
    currency_rate: Decimal = Decimal("1")

    @property
    def amount_paid(self) -> Decimal:
        """Sum of the live (non-deleted) payments."""
        return sum((p.amount for p in self.payments if p.status == "AUTHORISED"), ZERO)

    @property
    def amount_credited(self) -> Decimal:
        """Sum of the credit-note allocations."""
        return sum((a.amount for a in self.allocations), ZERO)

    @property
    def amount_due(self) -> Decimal:
        """Total less payments and credits (zero once voided or deleted)."""
        if self.status in ("VOIDED", "DELETED"):
            return ZERO
        return self.total - self.amount_paid - self.amount_credited


@dataclass
class HistoryRecord:
    date_utc: dt.datetime
    details: str
    changes: str = "Note"
    user: str = "System Generated"


@dataclass
class LineItemRecord:
    description: str
    amount: Decimal
    account_code: str


@dataclass
class BankTransactionRecord:
    id: str
    contact_id: str
    date: dt.date
    currency: str
    updated: dt.datetime
    bank_account_code: str
    lines: list[LineItemRecord]
    reference: str | None = None
    type: str = "RECEIVE"
    status: str = "AUTHORISED"
    overpayment_id: str | None = None

    @property
    def total(self) -> Decimal:
        """Sum of the line amounts (no tax in this emulator)."""
        return sum((line.amount for line in self.lines), ZERO)


@dataclass
class OverpaymentRecord:
    """Money a customer paid beyond what was due (created by a RECEIVE-OVERPAYMENT bank transaction)."""

    id: str
    contact_id: str
    date: dt.date
    currency: str
    total: Decimal
    updated: dt.datetime
    bank_transaction_id: str
    description: str = ""
    reference: str | None = None
    status: str = "AUTHORISED"

    @property
    def remaining(self) -> Decimal:
        """Credit not yet used (allocations and refunds are not emulated, so all of it)."""
        return self.total if self.status == "AUTHORISED" else ZERO
