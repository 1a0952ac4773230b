"""The organisation's state that every entity family shares: its records, clock, ids, lock and listeners,
finding a record by id, and the organisation-wide rules (its currencies and its chart of accounts).

``OrganisationState`` is the dataclass the entity families (``contacts``, ``invoices``, ``payments``,
``banking``) extend; ``OrgStore`` (the package) combines them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from connectors.sandbox.generator import country_of_currency
from connectors.xero.emulator.chart import AccountRecord, default_chart
from connectors.xero.emulator.clock import Clock, stable_id
from connectors.xero.emulator.errors import UnknownEntityError, XeroValidationError, lookup
from connectors.xero.emulator.records import (
    BankTransactionRecord,
    BatchPaymentRecord,
    ContactRecord,
    CreditNoteRecord,
    HistoryRecord,
    InvoiceRecord,
    OverpaymentRecord,
    PaymentRecord,
)

# (eventCategory, resourceId, eventType): what a Xero webhook announces.
ChangeListener = Callable[[str, str, str], None]


@dataclass
class OrganisationState:
    tenant_id: str
    name: str
    seed: int
    base_currency: str = "GBP"
    # ISO 3166 country of the organisation (GET /Organisation CountryCode); by default its base
    # currency's country.
    country_code: str = ""
    clock: Clock = field(default_factory=Clock)
    contacts: dict[str, ContactRecord] = field(default_factory=dict)
    invoices: dict[str, InvoiceRecord] = field(default_factory=dict)
    payments: dict[str, PaymentRecord] = field(default_factory=dict)
    credit_notes: dict[str, CreditNoteRecord] = field(default_factory=dict)
    bank_transactions: dict[str, BankTransactionRecord] = field(default_factory=dict)
    overpayments: dict[str, OverpaymentRecord] = field(default_factory=dict)
    batch_payments: dict[str, BatchPaymentRecord] = field(default_factory=dict)
    accounts: dict[str, AccountRecord] = field(default_factory=default_chart)
    history: dict[str, list[HistoryRecord]] = field(default_factory=dict)
    listeners: list[ChangeListener] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # The currencies the organisation has added (GET /Currencies); the base currency always is one.
    currencies: set[str] = field(default_factory=set)
    _counter: int = 0

    def __post_init__(self) -> None:
        self.currencies.add(self.base_currency)
        self.country_code = self.country_code or country_of_currency(self.base_currency)

    # --- ids and events ------------------------------------------------------------------
    def new_id(self, kind: str) -> str:
        """A fresh, seed-deterministic id for an entity created through the API."""
        with self.lock:
            self._counter += 1
            return stable_id(self.seed, f"new-{kind}", str(self._counter))

    def _emit(self, category: str, resource_id: str, event_type: str) -> None:
        for listener in self.listeners:
            listener(category, resource_id, event_type)

    # --- records by id -------------------------------------------------------------------
    def invoice(self, invoice_id: str) -> InvoiceRecord:
        """The invoice with this id (raises UnknownEntityError)."""
        return lookup(self.invoices, invoice_id)

    def contact(self, contact_id: str) -> ContactRecord:
        """The contact with this id (raises UnknownEntityError)."""
        return lookup(self.contacts, contact_id)

    def credit_note(self, credit_note_id: str) -> CreditNoteRecord:
        """The credit note with this id (raises UnknownEntityError)."""
        return lookup(self.credit_notes, credit_note_id)

    def payment(self, payment_id: str) -> PaymentRecord:
        """The payment with this id (raises UnknownEntityError)."""
        return lookup(self.payments, payment_id)

    def batch_payment(self, batch_payment_id: str) -> BatchPaymentRecord:
        """The batch payment with this id (raises UnknownEntityError)."""
        return lookup(self.batch_payments, batch_payment_id)

    def overpayment(self, overpayment_id: str) -> OverpaymentRecord:
        """The overpayment with this id (raises UnknownEntityError)."""
        return lookup(self.overpayments, overpayment_id)

    def applied_invoice(self, invoice_id: str) -> InvoiceRecord:
        """The invoice a payment or credit is applied to: an unknown one is a validation error in the
        request body (Xero: "Invoice could not be found"), not a 404."""
        try:
            return self.invoice(invoice_id)
        except UnknownEntityError:
            raise XeroValidationError("Invoice could not be found") from None

    def _existing_contact(self, contact_id: str) -> ContactRecord:
        try:
            return self.contact(contact_id)
        except UnknownEntityError:
            raise XeroValidationError("The contact could not be found.") from None

    # --- currencies and the chart of accounts --------------------------------------------
    def check_currency(self, code: str | None) -> None:
        """Raise XeroValidationError unless ``code`` (None: the default) is one of the organisation's
        currencies; Xero answers the same for a code that is not ISO 4217 at all."""
        if code is not None and code not in self.currencies:
            raise XeroValidationError(f"Organisation is not subscribed to currency {code}")

    def bank_account(self, code: str) -> AccountRecord:
        """The active BANK account with this code (payments and bank transactions need one)."""
        account = self.accounts.get(code)
        if account is None or not account.is_bank or account.status != "ACTIVE":
            raise XeroValidationError(f"Account code '{code}' is not a valid bank account.")
        return account

    def line_account(self, code: str | None) -> AccountRecord:
        """The account a line item is coded to: active, not a bank and not a system account."""
        if not code:
            raise XeroValidationError("Account code must be specified.")
        account = self.accounts.get(code)
        if account is None or not account.takes_line_items:
            raise XeroValidationError(f"Account code '{code}' is not a valid code for this document.")
        return account

    def account_code_of(self, account_id: str) -> str:
        """The code of the account with this AccountID (a batch payment names its account by id);
        XeroValidationError when there is none."""
        wanted = account_id.strip().lower()
        for code in self.accounts:
            if stable_id(self.seed, "account", code) == wanted:
                return code
        raise XeroValidationError("Account could not be found")
