"""InMemoryConnector: a seedable, in-process platform for service and job tests.

It obeys the same contract as the real connectors (the contract suite runs against all three):
payments reduce amount due, a repeated idempotency key returns the first result, ``fail_next``
injects typed errors so retry paths can be tested without HTTP.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from addon.domain.types import (
    BankTransaction,
    ChangeEvent,
    ChangeOperation,
    Contact,
    CreditNote,
    EntityKind,
    Invoice,
    InvoiceStatus,
    NewBankTransaction,
    NewCreditNote,
    NewPayment,
    Payment,
    Platform,
)
from connectors.base import AccountingConnector, ConnectorConfig, Organisation, register
from connectors.errors import ConnectorError, NotFoundError, ValidationError
from connectors.tokens import TokenStore


@register
class InMemoryConnector(AccountingConnector):
    platform: ClassVar[str] = "fake"
    default_fee_account: ClassVar[str] = "404"
    default_fx_account: ClassVar[str] = "475"
    # A chart like the Xero emulator's, so a wrong account code fails here as it would there.
    BANK_ACCOUNTS: ClassVar[frozenset[str]] = frozenset({"090"})
    LEDGER_ACCOUNTS: ClassVar[frozenset[str]] = frozenset({"200", "404", "475"})

    def __init__(self, config: ConnectorConfig | None = None, tenant_remote_id: str = "fake-tenant",
                 tokens: TokenStore | None = None) -> None:
        super().__init__(config or ConnectorConfig("fake", "fake", "", ""), tenant_remote_id,
                         tokens)  # type: ignore[arg-type]
        self.contacts: dict[str, Contact] = {}
        self.invoices: dict[str, Invoice] = {}
        self.payments: dict[str, Payment] = {}
        self.credit_notes: dict[str, CreditNote] = {}
        self.bank_transactions: dict[str, BankTransaction] = {}
        self.notes: dict[str, list[str]] = {}
        self.writes: list[tuple[str, Any]] = []
        self._idempotent: dict[str, Any] = {}
        self._failures: list[ConnectorError] = []
        self._counter = 0
        # The organisation's home currency, as the platforms report it (the emulators' companies: GBP).
        self.home_currency: str | None = "GBP"
        self.country: str | None = "GB"

    # --- test helpers ------------------------------------------------------------------------
    def seed(self, *, contacts: list[Contact] = (), invoices: list[Invoice] = (),  # type: ignore[assignment]
             payments: list[Payment] = (), credit_notes: list[CreditNote] = ()) -> None:  # type: ignore[assignment]
        """Load entities as if they already existed on the platform."""
        self.contacts.update({c.remote_id: c for c in contacts})
        self.invoices.update({i.remote_id: i for i in invoices})
        self.payments.update({p.remote_id: p for p in payments})
        self.credit_notes.update({c.remote_id: c for c in credit_notes})

    def fail_next(self, error: ConnectorError) -> None:
        """Make the next API call raise ``error`` (queue several for several calls)."""
        self._failures.append(error)

    def _call(self) -> None:
        if self._failures:
            raise self._failures.pop(0)

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-{self._counter}"

    # --- reads ---------------------------------------------------------------------------
    def _changed(self, items: dict[str, Any], since: datetime | None) -> Iterator[Any]:
        self._call()
        for item in list(items.values()):
            if since is None or item.updated_at is None or item.updated_at >= since:
                yield item

    def list_contacts(self, *, modified_since: datetime | None = None) -> Iterator[Contact]:
        return self._changed(self.contacts, modified_since)

    def list_invoices(self, *, modified_since: datetime | None = None) -> Iterator[Invoice]:
        return self._changed(self.invoices, modified_since)

    def list_payments(self, *, modified_since: datetime | None = None) -> Iterator[Payment]:
        return self._changed(self.payments, modified_since)

    def list_credit_notes(self, *, modified_since: datetime | None = None) -> Iterator[CreditNote]:
        return self._changed(self.credit_notes, modified_since)

    def get_home_currency(self) -> str | None:
        """The home currency set on the fake (``home_currency``). Not a call that fails: queued failures
        stay for the reads they were meant for."""
        return self.home_currency

    def get_organisation(self) -> Organisation:
        """The home currency and country set on the fake (``home_currency``, ``country``); no failures either."""
        return Organisation(home_currency=self.home_currency, country=self.country)

    def get_invoice(self, invoice_id: str) -> Invoice:
        self._call()
        try:
            return self.invoices[invoice_id]
        except KeyError:
            raise NotFoundError(f"invoice {invoice_id} not found", status=404) from None

    def get_contact(self, contact_id: str) -> Contact:
        self._call()
        try:
            return self.contacts[contact_id]
        except KeyError:
            raise NotFoundError(f"contact {contact_id} not found", status=404) from None

    # --- writes --------------------------------------------------------------------------
    def _apply_to_invoice(self, invoice_id: str, amount: Decimal, *, credit: bool) -> None:
        inv = self.get_invoice(invoice_id)
        if inv.status is not InvoiceStatus.OPEN:
            raise ValidationError(f"invoice {inv.number} is not open")
        if amount > inv.amount_due:
            raise ValidationError(f"amount {amount} exceeds amount due {inv.amount_due} on {inv.number}")
        due = inv.amount_due - amount
        changes: dict[str, Any] = {"amount_due": due, "updated_at": datetime.now(UTC)}
        changes["amount_credited" if credit else "amount_paid"] = (
            (inv.amount_credited if credit else inv.amount_paid) + amount)
        if due == 0:
            changes["status"] = InvoiceStatus.PAID
        self.invoices[invoice_id] = dataclasses.replace(inv, **changes)

    def create_payment(self, payment: NewPayment, *, idempotency_key: str,
                       part_refusals: Mapping[str, int] | None = None) -> Payment:
        # One request: nothing to save in parts, so ``part_refusals`` has nothing to name.
        if idempotency_key in self._idempotent:
            return self._idempotent[idempotency_key]  # type: ignore[no-any-return]
        self._call()
        if not payment.allocations:  # as Xero and QBO: a payment must be applied to something
            raise ValidationError("a payment needs at least one invoice allocation")
        if payment.unapplied < 0:
            raise ValidationError("the unapplied amount cannot be negative")
        for alloc in payment.allocations:
            self._apply_to_invoice(alloc.invoice_id, alloc.amount, credit=False)
        created = Payment(remote_id=self._next_id("pay"), contact_id=payment.contact_id, date=payment.date,
                          amount=payment.amount, currency=payment.currency, allocations=payment.allocations,
                          unapplied_amount=payment.unapplied, reference=payment.reference,
                          updated_at=datetime.now(UTC))
        self.payments[created.remote_id] = created
        self._idempotent[idempotency_key] = created
        self.writes.append(("create_payment", created))
        return created

    def create_credit_note(self, credit: NewCreditNote, *, idempotency_key: str) -> CreditNote:
        if idempotency_key in self._idempotent:
            return self._idempotent[idempotency_key]  # type: ignore[no-any-return]
        self._call()
        allocated = sum((a.amount for a in credit.allocations), Decimal("0"))
        if allocated > credit.amount:  # as Xero and QBO: cannot allocate more than the credit
            raise ValidationError(f"allocations {allocated} exceed the credit amount {credit.amount}")
        for alloc in credit.allocations:
            self._apply_to_invoice(alloc.invoice_id, alloc.amount, credit=True)
        created = CreditNote(remote_id=self._next_id("cn"), number=None, contact_id=credit.contact_id,
                             date=credit.date, currency=credit.currency, total=credit.amount,
                             remaining=credit.amount - allocated, allocations=credit.allocations,
                             reason=credit.reason, updated_at=datetime.now(UTC))
        self.credit_notes[created.remote_id] = created
        self._idempotent[idempotency_key] = created
        self.writes.append(("create_credit_note", created))
        return created

    def create_bank_transaction(self, txn: NewBankTransaction, *, idempotency_key: str) -> BankTransaction:
        if idempotency_key in self._idempotent:
            return self._idempotent[idempotency_key]  # type: ignore[no-any-return]
        self._call()
        bank = txn.bank_account_code or "090"
        if bank not in self.BANK_ACCOUNTS:
            raise ValidationError(f"{bank} is not a bank account")
        if txn.account_code not in self.LEDGER_ACCOUNTS:
            raise ValidationError(f"account code {txn.account_code!r} is not a valid code for this document")
        if txn.amount <= 0:
            raise ValidationError("the total must be greater than zero")
        if txn.contact_id not in self.contacts:
            raise ValidationError("the contact could not be found")
        created = BankTransaction(remote_id=self._next_id("bt"), kind=txn.kind, contact_id=txn.contact_id,
                                  date=txn.date, currency=txn.currency, amount=txn.amount,
                                  account_code=txn.account_code, bank_account_code=bank)
        self.bank_transactions[created.remote_id] = created
        self._idempotent[idempotency_key] = created
        self.writes.append(("create_bank_transaction", created))
        return created

    def add_invoice_note(self, invoice_id: str, text: str, *, idempotency_key: str) -> None:
        if idempotency_key in self._idempotent:
            return
        self._call()
        self.get_invoice(invoice_id)
        self.notes.setdefault(invoice_id, []).append(text)
        self._idempotent[idempotency_key] = True
        self.writes.append(("add_invoice_note", (invoice_id, text)))

    # --- webhooks: a simple signed JSON format so webhook plumbing can be tested platform-free
    @staticmethod
    def verify_webhook(body: bytes, signature: str | None, key: str) -> bool:
        expected = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
        return signature is not None and hmac.compare_digest(expected, signature)

    @staticmethod
    def parse_webhook(body: bytes) -> list[ChangeEvent]:
        try:
            data = json.loads(body)
            return [ChangeEvent(platform=Platform.FAKE, tenant_remote_id=e["tenant"],
                                kind=EntityKind(e["kind"]), entity_id=e["id"],
                                operation=ChangeOperation(e.get("operation", "update")))
                    for e in data["events"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"malformed webhook payload: {exc}") from exc
