"""Batch payments: one bank deposit paying several invoices, saved whole or not at all, on the emulator
(raw HTTP) and through the connector (the official SDK)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import requests

from addon.domain.types import Allocation, NewPayment
from connectors.errors import PartiallyPostedError, ValidationError
from connectors.xero import XeroConnector
from connectors.xero.emulator.clock import stable_id
from connectors.xero.emulator.records import InvoiceRecord
from connectors.xero.emulator.testing import XeroSandbox


def two_foreign(sandbox: XeroSandbox) -> tuple[InvoiceRecord, InvoiceRecord]:
    """Two new AUTHORISED invoices of one contact in a currency other than the base currency."""
    contact = next(iter(sandbox.store.contacts))
    code = next(c for c in ("EUR", "USD") if c != sandbox.store.base_currency)
    return tuple(sandbox.store.create_invoice(contact, date(2026, 10, 1), date(2026, 10, 31), Decimal("50.00"),
                                              currency=code) for _ in range(2))  # type: ignore[return-value]


def two_open(sandbox: XeroSandbox) -> tuple[InvoiceRecord, InvoiceRecord]:
    """Two AUTHORISED base-currency invoices of one contact."""
    want = sandbox.store.base_currency
    by_contact: dict[str, list[InvoiceRecord]] = {}
    for inv in sandbox.store.invoices.values():
        if inv.status == "AUTHORISED" and inv.currency == want and inv.amount_due > 10:
            by_contact.setdefault(inv.contact_id, []).append(inv)
    pair = next(v for v in by_contact.values() if len(v) >= 2)
    return pair[0], pair[1]


def batch_body(sandbox: XeroSandbox, pays: list[tuple[str, Any]], account: str = "090") -> dict[str, Any]:
    return {"BatchPayments": [{"Account": {"AccountID": stable_id(sandbox.store.seed, "account", account)},
                               "Date": "2026-11-02", "Reference": "remittance 7",
                               "Payments": [{"Invoice": {"InvoiceID": i}, "Amount": str(a)} for i, a in pays]}]}


def test_batch_payment_pays_every_invoice_as_one_document(sandbox: XeroSandbox, api: requests.Session) -> None:
    a, b = two_open(sandbox)
    due_a = a.amount_due
    resp = api.put(sandbox.api_url("/BatchPayments"), json=batch_body(sandbox, [(a.id, due_a), (b.id, "5.00")]))
    assert resp.status_code == 200, resp.text
    made = resp.json(parse_float=Decimal)["BatchPayments"][0]
    assert (made["Type"], made["Status"], made["TotalAmount"]) == ("RECBATCH", "AUTHORISED", due_a + 5)
    assert [p["Invoice"]["InvoiceID"] for p in made["Payments"]] == [a.id, b.id]
    assert (a.status, a.amount_due, b.amount_due) == ("PAID", 0, b.total - b.amount_paid - b.amount_credited)
    # Its payments are ordinary payments too, each carrying the batch's id.
    for part in made["Payments"]:
        pay = api.get(sandbox.api_url(f"/Payments/{part['PaymentID']}")).json()["Payments"][0]
        assert pay["BatchPaymentID"] == made["BatchPaymentID"]
    one = api.get(sandbox.api_url(f"/BatchPayments/{made['BatchPaymentID']}")).json()["BatchPayments"]
    assert [x["BatchPaymentID"] for x in one] == [made["BatchPaymentID"]]
    later = api.get(sandbox.api_url("/BatchPayments"), headers={"If-Modified-Since": "2099-01-01T00:00:00"})
    assert later.json()["BatchPayments"] == []


def test_a_refused_batch_payment_saves_nothing_and_carries_its_payments_errors(
        sandbox: XeroSandbox, api: requests.Session) -> None:
    # Xero puts a refused payment's message on the batch payment element, not on the payment inside it
    # (Xero-NetStandard#324: the payment came back with HasValidationErrors false and no PaymentID, and
    # Xero-OpenAPI#377 added ValidationErrors to BatchPayment to carry the message).
    a, b = two_open(sandbox)
    before = (len(sandbox.store.payments), a.amount_due, b.amount_due)
    body = batch_body(sandbox, [(a.id, "1.00"), (b.id, b.amount_due + 1)])
    resp = api.put(sandbox.api_url("/BatchPayments"), json=body)
    assert resp.status_code == 400
    element = resp.json()["Elements"][0]
    assert element["ValidationErrors"] == [
        {"Message": "Payment amount exceeds the amount outstanding on this document"}]
    assert element["Payments"] == json.loads(json.dumps(body["BatchPayments"][0]["Payments"]))
    assert (len(sandbox.store.payments), a.amount_due, b.amount_due) == before
    assert not sandbox.store.batch_payments


@pytest.mark.parametrize("problem", ["paid", "voided", "unknown", "not a bank", "foreign", "no account id"])
def test_batch_payment_is_refused_where_xero_refuses_it(sandbox: XeroSandbox, api: requests.Session,
                                                        problem: str) -> None:
    a, b = two_open(sandbox)
    target, account = b.id, "090"
    if problem == "paid":
        sandbox.store.add_payment(b.id, date(2026, 11, 1), b.amount_due)
    elif problem == "voided":
        b.status = "VOIDED"
    elif problem == "unknown":
        target = "00000000-0000-0000-0000-000000000000"
    elif problem == "not a bank":
        account = "200"
    elif problem == "foreign":
        target = two_foreign(sandbox)[0].id
    body = batch_body(sandbox, [(a.id, "1.00"), (target, "1.00")], account)
    if problem == "no account id":
        body["BatchPayments"][0]["Account"] = {"Code": "090"}
    before = len(sandbox.store.payments)
    resp = api.put(sandbox.api_url("/BatchPayments"), json=body)
    assert resp.status_code == 400, resp.text
    assert len(sandbox.store.payments) == before
    assert not sandbox.store.batch_payments


def test_batch_payment_replays_under_its_idempotency_key(sandbox: XeroSandbox, api: requests.Session) -> None:
    a, b = two_open(sandbox)
    body = batch_body(sandbox, [(a.id, "1.00"), (b.id, "2.00")])
    first = api.put(sandbox.api_url("/BatchPayments"), json=body, headers={"Idempotency-Key": "dep-1"})
    again = api.put(sandbox.api_url("/BatchPayments"), json=body, headers={"Idempotency-Key": "dep-1"})
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert len(sandbox.store.batch_payments) == 1


def test_deleting_a_batch_payment_reopens_its_invoices(sandbox: XeroSandbox, api: requests.Session) -> None:
    a, b = two_open(sandbox)
    due = (a.amount_due, b.amount_due)
    made = api.put(sandbox.api_url("/BatchPayments"),
                   json=batch_body(sandbox, [(a.id, a.amount_due), (b.id, "2.00")])).json()["BatchPayments"][0]
    gone = api.post(sandbox.api_url("/BatchPayments"),
                    json={"BatchPaymentID": made["BatchPaymentID"], "Status": "DELETED"})
    assert gone.status_code == 200, gone.text
    assert (gone.json()["BatchPayments"][0]["Status"], gone.json()["BatchPayments"][0]["Payments"]) == ("DELETED", [])
    assert (a.amount_due, b.amount_due, a.status) == (*due, "AUTHORISED")
    twice = api.post(sandbox.api_url(f"/BatchPayments/{made['BatchPaymentID']}"), json={"Status": "DELETED"})
    assert twice.status_code == 400


def test_one_payment_of_a_batch_payment_cannot_be_deleted_on_its_own(sandbox: XeroSandbox,
                                                                      api: requests.Session) -> None:
    # Xero refuses it ("Payments within a batch cannot be deleted.", Bookeo's help page quoting Xero's
    # answer); only the whole batch payment can be deleted.
    a, b = two_open(sandbox)
    made = api.put(sandbox.api_url("/BatchPayments"),
                   json=batch_body(sandbox, [(a.id, "1.00"), (b.id, "2.00")])).json()["BatchPayments"][0]
    due = (a.amount_due, b.amount_due)
    part = made["Payments"][0]["PaymentID"]
    resp = api.post(sandbox.api_url(f"/Payments/{part}"), json={"Payments": [{"Status": "DELETED"}]})
    assert resp.status_code == 400, resp.text
    (element,) = resp.json()["Elements"]
    assert element["ValidationErrors"] == [{"Message": "Payments within a batch cannot be deleted."}]
    assert element["PaymentID"] == part
    assert sandbox.store.payments[part].status == "AUTHORISED"
    assert (a.amount_due, b.amount_due) == due
    gone = api.post(sandbox.api_url(f"/BatchPayments/{made['BatchPaymentID']}"), json={"Status": "DELETED"})
    assert gone.status_code == 200, gone.text
    assert sandbox.store.payments[part].status == "DELETED"


# --- the connector ----------------------------------------------------------------------------------

def test_combined_payment_posts_as_one_batch_payment(sandbox: XeroSandbox, connector: XeroConnector) -> None:
    a, b = two_open(sandbox)
    new = NewPayment(a.contact_id, date(2026, 11, 2), a.currency,
                     (Allocation(a.id, a.amount_due), Allocation(b.id, Decimal("3.00"))), reference="remit 9")
    paid = connector.create_payment(new, idempotency_key="remit-9")
    assert list(sandbox.store.batch_payments) == [paid.remote_id]
    batch = sandbox.store.batch_payments[paid.remote_id]
    assert paid.part_ids == tuple(p.id for p in batch.payments)
    assert {(x.invoice_id, x.amount) for x in paid.allocations} == {(a.id, new.allocations[0].amount),
                                                                    (b.id, Decimal("3.00"))}
    assert paid.amount == new.amount
    assert paid.contact_id == a.contact_id
    assert connector.create_payment(new, idempotency_key="remit-9") == paid  # replayed, not paid twice
    assert len(sandbox.store.batch_payments) == 1
    assert a.status == "PAID"


def test_refused_combined_payment_saves_nothing(sandbox: XeroSandbox, connector: XeroConnector) -> None:
    a, b = two_open(sandbox)
    before = len(sandbox.store.payments)
    new = NewPayment(a.contact_id, date(2026, 11, 2), a.currency,
                     (Allocation(a.id, Decimal("1.00")), Allocation(b.id, b.amount_due + 1)))
    with pytest.raises(ValidationError) as err:
        connector.create_payment(new, idempotency_key="remit-10")
    assert not isinstance(err.value, PartiallyPostedError)
    # Xero gives the message on the batch payment, not on the refused payment, so it names no invoice.
    assert err.value.errors == ["Payment amount exceeds the amount outstanding on this document"]
    assert len(sandbox.store.payments) == before
    assert not sandbox.store.batch_payments


def test_foreign_currency_combined_payment_is_one_atomic_request_per_invoice(
        sandbox: XeroSandbox, connector: XeroConnector) -> None:
    # Xero's API makes batch payments in the base currency only.
    a, b = two_foreign(sandbox)
    new = NewPayment(a.contact_id, date(2026, 11, 2), a.currency,
                     (Allocation(a.id, Decimal("1.00")), Allocation(b.id, Decimal("2.00"))))
    paid = connector.create_payment(new, idempotency_key="fx-1")
    assert not sandbox.store.batch_payments
    assert paid.remote_id == paid.part_ids[0]
    assert len(paid.part_ids) == 2
    assert connector.create_payment(new, idempotency_key="fx-1") == paid


def test_a_later_refusal_reports_exactly_what_was_saved(sandbox: XeroSandbox, connector: XeroConnector) -> None:
    a, b = two_foreign(sandbox)
    new = NewPayment(a.contact_id, date(2026, 11, 2), a.currency,
                     (Allocation(a.id, Decimal("1.00")), Allocation(b.id, b.amount_due + 1)))
    with pytest.raises(PartiallyPostedError) as err:
        connector.create_payment(new, idempotency_key="fx-2")
    saved = [p.id for p in sandbox.store.payments.values() if p.invoice_id == a.id and p.amount == Decimal("1.00")]
    assert err.value.saved == saved
    assert len(saved) == 1


def test_a_retry_sends_only_the_refused_part_under_a_fresh_key(sandbox: XeroSandbox,
                                                              connector: XeroConnector) -> None:
    # The second invoice's payment is refused (the invoice is a draft); once it is approved, re-sending the
    # same key replays the refusal, while a fresh key for that part alone completes the payment and the
    # first invoice's part is replayed (paid once).
    a, b = two_foreign(sandbox)
    b.status = "DRAFT"
    new = NewPayment(a.contact_id, date(2026, 11, 2), a.currency,
                     (Allocation(a.id, Decimal("1.00")), Allocation(b.id, Decimal("2.00"))))
    with pytest.raises(PartiallyPostedError) as err:
        connector.create_payment(new, idempotency_key="fx-3")
    assert err.value.part == ":1"
    b.status = "AUTHORISED"
    with pytest.raises(PartiallyPostedError):
        connector.create_payment(new, idempotency_key="fx-3")  # the emulator replays the refused key's 400
    paid = connector.create_payment(new, idempotency_key="fx-3", part_refusals={":1": 2})
    assert paid.part_ids[0] == err.value.saved[0]
    assert [p.amount for p in sandbox.store.payments.values() if p.invoice_id == a.id] == [Decimal("1.00")]
    assert [p.amount for p in sandbox.store.payments.values() if p.invoice_id == b.id] == [Decimal("2.00")]
    assert connector.create_payment(new, idempotency_key="fx-3", part_refusals={":1": 2}) == paid


def test_a_refused_overpayment_reports_the_payment_already_saved(sandbox: XeroSandbox,
                                                                 connector: XeroConnector) -> None:
    a, b = two_open(sandbox)
    new = NewPayment(a.contact_id, date(2026, 11, 2), a.currency,
                     (Allocation(a.id, a.amount_due), Allocation(b.id, b.amount_due)), unapplied=Decimal("4.00"),
                     account_code="090")
    sandbox.store.contacts.pop(a.contact_id)  # the overpayment's contact is gone: Xero refuses it
    with pytest.raises(PartiallyPostedError) as err:
        connector.create_payment(new, idempotency_key="over-1")
    assert err.value.saved[0] in sandbox.store.batch_payments
    assert err.value.part == "-overpayment"
