"""The connector contract (architecture B6.3): the fake, Xero and QBO behave the same through the interface.

Each platform runs against the same generated company (real HTTP on loopback for Xero and QBO). The
emulators are module-scoped for speed, so a test that changes an invoice takes its own from
``harness.open_invoice()``.
"""

from __future__ import annotations

import hmac
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from addon.domain.types import (
    Allocation,
    BankTransaction,
    BankTransactionKind,
    ChangeEvent,
    Contact,
    CreditNote,
    EntityKind,
    Invoice,
    InvoiceStatus,
    NewBankTransaction,
    NewCreditNote,
    NewPayment,
    Payment,
)
from connectors.errors import NotFoundError, ValidationError
from tests.connectors.contract_harness import HARNESSES, WEBHOOK_KEY, Harness


@pytest.fixture(scope="module", params=list(HARNESSES))
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    with HARNESSES[request.param]() as h:
        yield h


def _aware(moment: datetime | None) -> bool:
    return moment is not None and moment.utcoffset() is not None


def _payment(inv: Invoice, amount: Decimal, reference: str = "contract") -> NewPayment:
    return NewPayment(contact_id=inv.contact_id, date=inv.issue_date, currency=inv.currency,
                      allocations=(Allocation(inv.remote_id, amount),), reference=reference)


def _key(name: str) -> str:
    return f"contract-{name}-{time.monotonic_ns()}"


# --- reads ------------------------------------------------------------------------------------------
def test_list_invoices_are_domain_types_with_decimal_money_and_aware_times(harness: Harness) -> None:
    invoices = list(harness.connector.list_invoices())
    assert invoices
    assert all(isinstance(i, Invoice) for i in invoices)
    for inv in invoices:
        for money in (inv.total, inv.amount_due, inv.amount_paid, inv.amount_credited):
            assert isinstance(money, Decimal), (inv.number, money)
        assert _aware(inv.updated_at), inv
        assert isinstance(inv.status, InvoiceStatus)


def test_list_other_entities_are_domain_types(harness: Harness) -> None:
    contacts = list(harness.connector.list_contacts())
    payments = list(harness.connector.list_payments())
    credits = list(harness.connector.list_credit_notes())
    assert all(isinstance(c, Contact) and _aware(c.updated_at) for c in contacts)
    assert all(isinstance(p, Payment) and _aware(p.updated_at) and isinstance(p.amount, Decimal) for p in payments)
    assert all(isinstance(a.amount, Decimal) for p in payments for a in p.allocations)
    assert all(isinstance(c, CreditNote) and _aware(c.updated_at) for c in credits)
    assert all(isinstance(c.total, Decimal) and isinstance(c.remaining, Decimal) for c in credits)


def test_counts_and_totals_match_the_seeded_company(harness: Harness) -> None:
    company, conn = harness.company, harness.connector
    assert len(list(conn.list_contacts())) == len(company.customers)
    assert len(list(conn.list_payments())) == len(company.payments)
    assert len(list(conn.list_credit_notes())) == len(company.credit_notes)
    listed = {i.number: i for i in conn.list_invoices()}
    assert set(listed) == {i.number for i in company.invoices}
    live = [i for i in company.invoices if not i.voided]  # QBO zeroes a voided invoice's total
    assert {i.number: listed[i.number].total for i in live} == {i.number: i.total for i in live}
    # Seeded amounts due are as the generator settled them (before any test wrote anything).
    assert {i.number: listed[i.number].amount_due for i in live} == {i.number: i.amount_due for i in live}
    statuses = Counter(i.status for i in listed.values())
    assert statuses[InvoiceStatus.VOIDED] == len(company.invoices) - len(live)
    assert statuses[InvoiceStatus.OPEN] == sum(i.amount_due > 0 for i in live)


def test_get_invoice_and_contact_round_trip(harness: Harness) -> None:
    conn = harness.connector
    listed = sorted(conn.list_invoices(), key=lambda i: i.number)[:3]
    for inv in listed:
        got = conn.get_invoice(inv.remote_id)
        assert (got.remote_id, got.number, got.contact_id, got.total, got.amount_due, got.status, got.currency,
                got.issue_date, got.due_date) == (inv.remote_id, inv.number, inv.contact_id, inv.total,
                                                  inv.amount_due, inv.status, inv.currency, inv.issue_date,
                                                  inv.due_date)
        contact = conn.get_contact(inv.contact_id)
        assert contact.remote_id == inv.contact_id
        assert contact.name in {c.name for c in harness.company.customers}


def test_unknown_ids_raise_not_found(harness: Harness) -> None:
    with pytest.raises(NotFoundError):
        harness.connector.get_invoice(harness.unknown_id)
    with pytest.raises(NotFoundError):
        harness.connector.get_contact(harness.unknown_id)


# --- payments ---------------------------------------------------------------------------------------
def test_payment_reduces_amount_due_then_pays_the_invoice(harness: Harness) -> None:
    conn, inv = harness.connector, harness.open_invoice()
    part = Decimal("10.00")
    created = conn.create_payment(_payment(inv, part), idempotency_key=_key("part"))
    assert isinstance(created, Payment)
    assert created.amount == part
    after = conn.get_invoice(inv.remote_id)
    assert after.amount_due == inv.amount_due - part
    assert after.amount_paid == inv.amount_paid + part
    assert after.status is InvoiceStatus.OPEN
    conn.create_payment(_payment(inv, after.amount_due), idempotency_key=_key("rest"))
    paid = conn.get_invoice(inv.remote_id)
    assert paid.amount_due == Decimal("0")
    assert paid.status is InvoiceStatus.PAID
    assert not paid.is_open


def test_repeated_idempotency_key_creates_nothing_new(harness: Harness) -> None:
    conn, inv = harness.connector, harness.open_invoice()
    before = len(list(conn.list_payments()))
    key = _key("idem")
    first = conn.create_payment(_payment(inv, Decimal("5.00")), idempotency_key=key)
    again = conn.create_payment(_payment(inv, Decimal("5.00")), idempotency_key=key)
    assert again.remote_id == first.remote_id
    assert len(list(conn.list_payments())) == before + 1
    assert conn.get_invoice(inv.remote_id).amount_due == inv.amount_due - Decimal("5.00")


def test_overpayment_is_rejected(harness: Harness) -> None:
    conn, inv = harness.connector, harness.any_open_invoice()
    with pytest.raises(ValidationError):
        conn.create_payment(_payment(inv, inv.amount_due + Decimal("1.00")), idempotency_key=_key("over"))
    assert conn.get_invoice(inv.remote_id).amount_due == inv.amount_due  # nothing was applied


def test_payment_on_a_paid_invoice_is_rejected(harness: Harness) -> None:
    conn = harness.connector
    paid = next(i for i in conn.list_invoices() if i.status is InvoiceStatus.PAID)
    with pytest.raises(ValidationError):
        conn.create_payment(_payment(paid, Decimal("1.00")), idempotency_key=_key("paid"))


def test_payment_without_allocations_is_rejected(harness: Harness) -> None:
    inv = next(iter(harness.connector.list_invoices()))
    empty = NewPayment(contact_id=inv.contact_id, date=inv.issue_date, currency=inv.currency, allocations=())
    with pytest.raises(ValidationError):
        harness.connector.create_payment(empty, idempotency_key=_key("empty"))


def test_unapplied_remainder_stays_as_customer_credit(harness: Harness) -> None:
    conn, inv = harness.connector, harness.open_invoice()
    overpaid = NewPayment(contact_id=inv.contact_id, date=inv.issue_date, currency=inv.currency,
                          allocations=(Allocation(inv.remote_id, inv.amount_due),), reference="contract-over",
                          unapplied=Decimal("12.34"))
    key = _key("unapplied")
    created = conn.create_payment(overpaid, idempotency_key=key)
    assert created.unapplied_amount == Decimal("12.34")
    assert created.amount == inv.amount_due + Decimal("12.34")
    assert conn.get_invoice(inv.remote_id).status is InvoiceStatus.PAID
    again = conn.create_payment(overpaid, idempotency_key=key)
    assert (again.remote_id, again.overpayment_id) == (created.remote_id, created.overpayment_id)


# --- bank transactions (fees, FX differences) --------------------------------------------------------
def _bank_txn(inv: Invoice, kind: BankTransactionKind, account: str, amount: str = "7.50") -> NewBankTransaction:
    return NewBankTransaction(kind=kind, contact_id=inv.contact_id, date=inv.issue_date, currency=inv.currency,
                              amount=Decimal(amount), account_code=account, description="contract fee",
                              reference="contract")


@pytest.mark.parametrize("kind", list(BankTransactionKind))
def test_bank_transaction_books_to_the_account(harness: Harness, kind: BankTransactionKind) -> None:
    conn, inv = harness.connector, harness.any_open_invoice()
    account = conn.default_fee_account if kind is BankTransactionKind.SPEND else conn.default_fx_account
    key = _key(f"bank-{kind.value}")
    booked = conn.create_bank_transaction(_bank_txn(inv, kind, account), idempotency_key=key)
    assert isinstance(booked, BankTransaction)
    assert (booked.kind, booked.amount, booked.account_code, booked.contact_id) == (
        kind, Decimal("7.50"), account, inv.contact_id)
    assert booked.bank_account_code
    assert conn.create_bank_transaction(_bank_txn(inv, kind, account), idempotency_key=key).remote_id == \
        booked.remote_id


def test_bank_transaction_to_an_unknown_account_is_rejected(harness: Harness) -> None:
    inv = harness.any_open_invoice()
    with pytest.raises(ValidationError):
        harness.connector.create_bank_transaction(_bank_txn(inv, BankTransactionKind.SPEND, "99999"),
                                                  idempotency_key=_key("bad-account"))


# --- credit notes -----------------------------------------------------------------------------------
def test_credit_note_is_created_and_allocated(harness: Harness) -> None:
    conn, inv = harness.connector, harness.open_invoice()
    amount = Decimal("7.50")
    credit = NewCreditNote(contact_id=inv.contact_id, date=inv.issue_date, currency=inv.currency, amount=amount,
                           reason="short delivery", allocations=(Allocation(inv.remote_id, amount),))
    before = len(list(conn.list_credit_notes()))
    note = conn.create_credit_note(credit, idempotency_key=_key("cn"))
    assert isinstance(note, CreditNote)
    assert (note.total, note.remaining, note.contact_id) == (amount, Decimal("0"), inv.contact_id)
    assert [(a.invoice_id, a.amount) for a in note.allocations] == [(inv.remote_id, amount)]
    after = conn.get_invoice(inv.remote_id)
    assert after.amount_due == inv.amount_due - amount
    # QBO keeps one Balance, so platforms may split "settled" between paid and credited differently.
    assert after.amount_paid + after.amount_credited == inv.amount_paid + inv.amount_credited + amount
    assert len(list(conn.list_credit_notes())) == before + 1


def test_credit_allocations_beyond_the_credit_are_rejected(harness: Harness) -> None:
    conn, inv = harness.connector, harness.any_open_invoice()
    credit = NewCreditNote(contact_id=inv.contact_id, date=inv.issue_date, currency=inv.currency,
                           amount=Decimal("2.00"), reason="pricing",
                           allocations=(Allocation(inv.remote_id, Decimal("3.00")),))
    with pytest.raises(ValidationError):
        conn.create_credit_note(credit, idempotency_key=_key("cn-over"))
    assert conn.get_invoice(inv.remote_id).amount_due == inv.amount_due


# --- notes ------------------------------------------------------------------------------------------
def test_add_invoice_note_is_idempotent(harness: Harness) -> None:
    conn = harness.connector
    inv = sorted(conn.list_invoices(), key=lambda i: i.number)[0]
    text = f"Cashline contract note {time.monotonic_ns()}"
    key = _key("note")
    conn.add_invoice_note(inv.remote_id, text, idempotency_key=key)
    conn.add_invoice_note(inv.remote_id, text, idempotency_key=key)
    assert harness.notes(inv.remote_id).count(text) == 1
    other = f"{text} (second)"
    conn.add_invoice_note(inv.remote_id, other, idempotency_key=_key("note2"))
    notes = harness.notes(inv.remote_id)
    assert notes.count(text) == 1
    assert notes.count(other) == 1


def test_note_on_unknown_invoice_raises_not_found(harness: Harness) -> None:
    with pytest.raises(NotFoundError):
        harness.connector.add_invoice_note(harness.unknown_id, "x", idempotency_key=_key("note404"))


# --- incremental reads ------------------------------------------------------------------------------
def test_changes_since_includes_a_changed_invoice(harness: Harness) -> None:
    conn, inv = harness.connector, harness.open_invoice()
    since = datetime.now(UTC) - timedelta(seconds=2)
    conn.create_payment(_payment(inv, Decimal("3.00")), idempotency_key=_key("cdc"))
    changes = conn.changes_since(since)
    changed = {i.remote_id: i for i in changes.invoices}
    assert inv.remote_id in changed
    assert changed[inv.remote_id].amount_due == inv.amount_due - Decimal("3.00")
    # Far from everything: only what changed recently (this module's own writes) comes back.
    assert len(changes.invoices) < len(harness.company.invoices) // 2


# --- rate limiting ----------------------------------------------------------------------------------
def test_every_request_runs_inside_the_throttle(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    # connector_for() installs the shared Redis limiter as ``throttle``; a request made outside it
    # would escape the per-tenant limits.
    if harness.served is None:
        pytest.skip("the in-memory connector makes no HTTP requests")
    conn, entered = harness.connector, []

    @contextmanager
    def counting() -> Iterator[None]:
        entered.append(1)
        yield

    monkeypatch.setattr(conn, "throttle", counting)
    before = harness.served()
    inv = harness.open_invoice()
    conn.get_contact(inv.contact_id)
    conn.create_payment(_payment(inv, Decimal("1.00")), idempotency_key=_key("throttle"))
    conn.add_invoice_note(inv.remote_id, "throttled note", idempotency_key=_key("throttle-note"))
    list(conn.list_payments())
    assert harness.served() - before == len(entered) > 0


# --- webhooks ---------------------------------------------------------------------------------------
def test_verify_webhook_accepts_the_platform_signature_only(harness: Harness,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    cls = type(harness.connector)
    body = harness.webhook_body("some-invoice")
    good = harness.sign(body, WEBHOOK_KEY)
    compared: list[Any] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert cls.verify_webhook(body, good, WEBHOOK_KEY)
    assert compared, "signatures must be compared in constant time (hmac.compare_digest)"
    assert not cls.verify_webhook(body, harness.sign(body, "another-key"), WEBHOOK_KEY)
    assert not cls.verify_webhook(body + b" ", good, WEBHOOK_KEY)
    assert not cls.verify_webhook(body, good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1], WEBHOOK_KEY)
    assert not cls.verify_webhook(body, None, WEBHOOK_KEY)
    assert not cls.verify_webhook(body, "", WEBHOOK_KEY)


def test_parse_webhook_reads_a_valid_delivery(harness: Harness) -> None:
    events = type(harness.connector).parse_webhook(harness.webhook_body("inv-42"))
    assert [(e.kind, e.entity_id) for e in events] == [(EntityKind.INVOICE, "inv-42")]
    assert all(isinstance(e, ChangeEvent) for e in events)


@pytest.mark.parametrize("body", [b"", b"not json", b"{}", b"[1, 2]", b'{"events": 5}', b"null"])
def test_parse_webhook_rejects_malformed_bodies(harness: Harness, body: bytes) -> None:
    with pytest.raises(ValueError, match="malformed"):
        type(harness.connector).parse_webhook(body)
