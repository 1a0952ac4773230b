"""The one interface every accounting platform implements, and the registry that picks one.

Connectors speak domain types only (``addon.domain.types``); platform JSON, SDK objects and HTTP
errors never leak past this boundary. Every write takes an idempotency key so a retried job never
creates a second payment, credit note or note.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from addon.domain.types import (
    BankTransaction,
    ChangeEvent,
    Contact,
    CreditApplication,
    CreditNote,
    Invoice,
    NewBankTransaction,
    NewCreditNote,
    NewPayment,
    Payment,
)
from connectors.tokens import TokenStore


@dataclass(frozen=True)
class Organisation:
    """What the platform says about the organisation itself; None where it does not say."""

    home_currency: str | None = None  # ISO 4217: the currency the books are kept in
    country: str | None = None  # ISO 3166 alpha-2: where the organisation is (its public holidays)


@dataclass(frozen=True)
class ConnectorConfig:
    """Where the platform lives and who we are to it (client credentials, base URLs)."""

    client_id: str
    client_secret: str
    api_url: str  # Xero: .../api.xro/2.0 host root; QBO: .../v3 root
    identity_url: str  # Xero identity host; QBO discovery document URL
    webhook_key: str = ""


@dataclass(frozen=True)
class ChangeSet:
    """Entities changed since a point in time, plus ids the platform reports as deleted."""

    contacts: list[Contact]
    invoices: list[Invoice]
    payments: list[Payment]
    credit_notes: list[CreditNote]
    deleted: dict[str, list[str]]  # EntityKind value -> remote ids
    # Credit applied by documents of their own (QBO's Payments with CreditMemo lines); Xero keeps its
    # allocations on the credit note itself and leaves this empty.
    credit_applications: list[CreditApplication] = field(default_factory=list)


class AccountingConnector(abc.ABC):
    """One tenant (Xero organisation / QBO realm) on one platform."""

    platform: ClassVar[str]
    # Accounts of the platform's standard chart (the emulators seed them) where a payment's bank fee and
    # FX difference are booked unless the tenant configures others (matching settings).
    default_fee_account: ClassVar[str]
    default_fx_account: ClassVar[str]

    def __init__(self, config: ConnectorConfig, tenant_remote_id: str, tokens: TokenStore) -> None:
        self.config = config
        self.tenant_remote_id = tenant_remote_id
        self.tokens = tokens
        # Wrapped around every HTTP request to the platform. The app installs a Redis-backed per-tenant
        # limiter here (shared by all workers); standalone use (CLI, tests) runs unthrottled.
        self.throttle: Callable[[], AbstractContextManager[None]] = nullcontext

    # --- reads -----------------------------------------------------------------------------
    @abc.abstractmethod
    def list_contacts(self, *, modified_since: datetime | None = None) -> Iterator[Contact]:
        """Contacts/customers changed since ``modified_since`` (all when None), paging internally."""

    @abc.abstractmethod
    def list_invoices(self, *, modified_since: datetime | None = None) -> Iterator[Invoice]:
        """Sales invoices (Xero ACCREC / QBO Invoice) changed since ``modified_since``."""

    @abc.abstractmethod
    def list_payments(self, *, modified_since: datetime | None = None) -> Iterator[Payment]:
        """Customer payments changed since ``modified_since``."""

    @abc.abstractmethod
    def list_credit_notes(self, *, modified_since: datetime | None = None) -> Iterator[CreditNote]:
        """Sales credit notes/memos changed since ``modified_since``."""

    def changes_since(self, since: datetime) -> ChangeSet:
        """Everything changed since ``since``; platforms with a CDC endpoint override this."""
        return self.sweep(since)

    def sweep(self, since: datetime | None = None) -> ChangeSet:
        """What the list endpoints hold, changed since ``since`` (everything when None; the backfill).
        Deletions are not reported. Platforms that keep credit applications apart from the credit note
        (QBO: Payments that apply a memo) override this to fill ``credit_applications``."""
        return ChangeSet(
            contacts=list(self.list_contacts(modified_since=since)),
            invoices=list(self.list_invoices(modified_since=since)),
            payments=list(self.list_payments(modified_since=since)),
            credit_notes=list(self.list_credit_notes(modified_since=since)),
            deleted={},
        )

    def get_home_currency(self) -> str | None:
        """The ISO 4217 currency the organisation keeps its books in (Xero BaseCurrency, QBO
        HomeCurrency); None when the platform does not say. Invoice rates convert into it."""
        return None

    def get_organisation(self) -> Organisation:
        """The home currency and the country (Xero Organisation, QBO Preferences + CompanyInfo), read
        together: the full sync stores both on the tenant."""
        return Organisation(home_currency=self.get_home_currency())

    @abc.abstractmethod
    def get_invoice(self, invoice_id: str) -> Invoice:
        """One invoice, fresh from the platform (raises NotFoundError)."""

    @abc.abstractmethod
    def get_contact(self, contact_id: str) -> Contact:
        """One contact, fresh from the platform (raises NotFoundError)."""

    # --- writes (all idempotent on the key) --------------------------------------------------
    @abc.abstractmethod
    def create_payment(self, payment: NewPayment, *, idempotency_key: str,
                       part_refusals: Mapping[str, int] | None = None) -> Payment:
        """Create a payment applied to the given invoices; ``payment.unapplied`` stays as customer credit.

        Saved whole or not at all where the platform allows; where it takes several requests and a later
        one is refused, raise PartiallyPostedError naming what was saved and which part was refused, never
        a plain ValidationError. ``part_refusals`` (part -> how often the platform refused it before) gives
        each such part its key (``part_key``): the saved parts keep theirs, a refused one gets a fresh one.
        """

    @abc.abstractmethod
    def create_bank_transaction(self, txn: NewBankTransaction, *, idempotency_key: str) -> BankTransaction:
        """Book money spent from or received into a bank account against another account (a fee, FX)."""

    @abc.abstractmethod
    def create_credit_note(self, credit: NewCreditNote, *, idempotency_key: str) -> CreditNote:
        """Create a sales credit note/memo and allocate it to the given invoices."""

    @abc.abstractmethod
    def add_invoice_note(self, invoice_id: str, text: str, *, idempotency_key: str) -> None:
        """Append a note to the invoice (Xero history record; QBO PrivateNote, keeping old text)."""

    def set_risk_tag(self, invoice_id: str, band: str, text: str, *, idempotency_key: str) -> None:
        """Write the risk band where the platform shows it; by default as an invoice note."""
        self.add_invoice_note(invoice_id, text, idempotency_key=idempotency_key)

    # --- webhooks (no tenant needed: class-level) ---------------------------------------------
    @staticmethod
    @abc.abstractmethod
    def verify_webhook(body: bytes, signature: str | None, key: str) -> bool:
        """Constant-time check of the platform's HMAC signature over the raw body."""

    @staticmethod
    @abc.abstractmethod
    def parse_webhook(body: bytes) -> list[ChangeEvent]:
        """Parse a verified delivery into change events (raises ValueError on malformed payloads)."""


_REGISTRY: dict[str, type[AccountingConnector]] = {}


def register(cls: type[AccountingConnector]) -> type[AccountingConnector]:
    """Class decorator: make a connector available to ``get_connector`` under ``cls.platform``."""
    _REGISTRY[cls.platform] = cls
    return cls


def connector_class(platform: str) -> type[AccountingConnector]:
    _load_builtin_connectors()
    try:
        return _REGISTRY[platform]
    except KeyError:
        raise LookupError(f"no connector registered for platform {platform!r}") from None


def get_connector(platform: str, config: ConnectorConfig, tenant_remote_id: str,
                  tokens: TokenStore, **kwargs: Any) -> AccountingConnector:
    """Build the connector for ``platform`` ('xero', 'qbo' or 'fake')."""
    return connector_class(platform)(config, tenant_remote_id, tokens, **kwargs)


def _load_builtin_connectors() -> None:
    # Imported lazily so importing connectors.base stays cheap and free of SDK side effects;
    # importing each package registers its connector.
    import connectors.fake
    import connectors.quickbooks
    import connectors.xero  # noqa: F401


def part_key(key: str, part: str, refusals: Mapping[str, int] | None = None) -> str:
    """Idempotency key of one request of a write made as several: ``<key><part>`` (``part`` e.g.
    ``-overpayment``, ``:1``), or ``<key><part>-retry<n>`` once the platform refused that part ``n`` times.

    The parts that were saved keep their keys, so a retry replays them (never made twice); a refused part
    gets a fresh key, because a platform may answer a refused request's key by replaying the refusal (the
    Xero emulator does), and the retry after the cause was fixed must be able to complete it.
    """
    refused = (refusals or {}).get(part, 0)
    return f"{key}{part}-retry{refused}" if refused else f"{key}{part}"
