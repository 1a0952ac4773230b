"""Plain value types shared by every layer: what an invoice, contact or payment *is* to Cashline.

Connectors map platform JSON onto these; services persist them; domain logic computes on them.
Money is always ``Decimal`` with an explicit ISO-4217 currency; datetimes are timezone-aware (UTC).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


class Platform(enum.StrEnum):
    XERO = "xero"
    QBO = "qbo"
    FAKE = "fake"


class InvoiceStatus(enum.StrEnum):
    """Platform-neutral invoice lifecycle (Xero AUTHORISED/SUBMITTED and QBO open invoices are OPEN)."""

    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOIDED = "voided"
    DELETED = "deleted"


class EntityKind(enum.StrEnum):
    CONTACT = "contact"
    INVOICE = "invoice"
    PAYMENT = "payment"
    CREDIT_NOTE = "credit_note"


class ChangeOperation(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    VOID = "void"
    MERGE = "merge"


@dataclass(frozen=True, slots=True)
class Contact:
    remote_id: str
    name: str
    emails: tuple[str, ...] = ()
    currency: str | None = None
    archived: bool = False
    updated_at: datetime | None = None
    bank_accounts: tuple[str, ...] = ()
    timezone: str | None = None
    # The number to text, as the platform holds it (mobile preferred, else the main number); the mirror
    # stores it in E.164 (addon/domain/phones.py), or None when it cannot be read.
    mobile: str | None = None
    # ISO 3166 alpha-2 of the customer's (billing, else street) address, read from the free text the platform
    # holds; None when it has none or it names no one country. Dunning skips that country's public holidays.
    country: str | None = None


@dataclass(frozen=True, slots=True)
class Allocation:
    """An amount of a payment or credit note applied to one invoice."""

    invoice_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Invoice:
    remote_id: str
    number: str
    contact_id: str
    currency: str
    issue_date: date
    due_date: date
    total: Decimal
    amount_due: Decimal
    status: InvoiceStatus
    amount_paid: Decimal = Decimal("0")
    amount_credited: Decimal = Decimal("0")
    updated_at: datetime | None = None
    sent: bool = False
    fully_paid_on: date | None = None
    reference: str | None = None
    billing_email: str | None = None
    online_url: str | None = None
    note: str | None = None
    # Units of the tenant's home (base) currency per 1 unit of ``currency``, as the platform recorded it
    # on the invoice (QBO ExchangeRate; Xero's CurrencyRate turned round). None: the platform gave none.
    home_rate: Decimal | None = None

    @property
    def is_open(self) -> bool:
        return self.status is InvoiceStatus.OPEN and self.amount_due > 0


@dataclass(frozen=True, slots=True)
class Payment:
    remote_id: str
    contact_id: str | None
    date: date
    amount: Decimal
    currency: str
    allocations: tuple[Allocation, ...] = ()
    unapplied_amount: Decimal = Decimal("0")
    reference: str | None = None
    deleted: bool = False
    updated_at: datetime | None = None
    # Where the platform keeps ``unapplied_amount`` as a document of its own (a Xero Overpayment); None
    # when the credit stays on the payment itself (QBO UnappliedAmt) or there is none.
    overpayment_id: str | None = None
    # The platform ids of the separate payments this one is made of, when it is not a single document
    # (a Xero batch payment, whose ``remote_id`` is the BatchPaymentID, or one Xero payment per invoice);
    # empty when ``remote_id`` is the whole payment.
    part_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CreditNote:
    remote_id: str
    number: str | None
    contact_id: str
    date: date
    currency: str
    total: Decimal
    remaining: Decimal
    allocations: tuple[Allocation, ...] = ()
    voided: bool = False
    reason: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AppliedCredit:
    """Part of a credit note applied to one invoice by a separate document (see CreditApplication)."""

    credit_note_id: str
    invoice_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class CreditApplication:
    """A platform document that applies credit notes to invoices: a QBO Payment with CreditMemo lines.

    QBO keeps no allocations on a CreditMemo; the Payments that apply it hold them, dated by their own
    TxnDate (often long after the memo). The mirror merges these into the notes' allocations by
    ``remote_id`` (the Payment's id): re-reading the payment replaces its allocations, ``deleted`` (the
    payment was deleted or voided) removes them, and allocations other payments made are left alone.
    """

    remote_id: str
    date: date
    credits: tuple[AppliedCredit, ...] = ()
    deleted: bool = False
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewPayment:
    """A payment we ask the platform to create, applied to one or more invoices.

    ``unapplied`` is money received beyond the allocations (an overpayment): it stays with the customer
    as credit (QBO: the payment's UnappliedAmt; Xero: an Overpayment next to the payment).
    """

    contact_id: str
    date: date
    currency: str
    allocations: tuple[Allocation, ...]
    reference: str | None = None
    account_code: str | None = None  # Xero bank account code; QBO deposit account id
    unapplied: Decimal = Decimal("0")

    @property
    def applied(self) -> Decimal:
        """What the allocations apply to invoices."""
        return sum((a.amount for a in self.allocations), Decimal("0"))

    @property
    def amount(self) -> Decimal:
        """All the money received: applied plus unapplied."""
        return self.applied + self.unapplied


class BankTransactionKind(enum.StrEnum):
    """Direction of a bank transaction booked straight to an account (no invoice)."""

    SPEND = "spend"  # money out of the bank account (a bank fee, an FX loss)
    RECEIVE = "receive"  # money into the bank account (an FX gain)


@dataclass(frozen=True, slots=True)
class NewBankTransaction:
    """Money in or out of a bank account booked to another account: the bank fee or FX difference of a
    customer payment, so the bank account moves by exactly what the statement shows."""

    kind: BankTransactionKind
    contact_id: str
    date: date
    currency: str
    amount: Decimal  # > 0; the direction is ``kind``
    account_code: str  # Xero account code / QBO account id the difference is booked to
    description: str
    reference: str | None = None
    bank_account_code: str | None = None  # None: the connector's default bank account


@dataclass(frozen=True, slots=True)
class BankTransaction:
    """A bank transaction as the platform recorded it."""

    remote_id: str
    kind: BankTransactionKind
    contact_id: str | None
    date: date
    currency: str
    amount: Decimal
    account_code: str
    bank_account_code: str


@dataclass(frozen=True, slots=True)
class NewCreditNote:
    """A credit note/memo to create and allocate against invoices (e.g. an accepted short-pay)."""

    contact_id: str
    date: date
    currency: str
    amount: Decimal
    reason: str
    allocations: tuple[Allocation, ...] = ()


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One entity change announced by a platform webhook (after signature verification)."""

    platform: Platform
    tenant_remote_id: str
    kind: EntityKind
    entity_id: str
    operation: ChangeOperation
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_at: datetime
    refresh_expires_at: datetime | None = None
    scope: str = ""
    id_token: str | None = None


@dataclass(frozen=True, slots=True)
class BankLine:
    """One normalised bank-statement line, whatever the file format."""

    booking_date: date
    amount: Decimal  # positive = money in
    currency: str
    value_date: date | None = None
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    end_to_end_id: str | None = None
    structured_reference: str | None = None
    remittance_text: str | None = None
    bank_reference: str | None = None
    reversal: bool = False
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
