"""QBO credit memos applied to invoices (zero-amount Payments) reach the mirror as dated credit allocations.

Everything goes through python-quickbooks (the connector, and the SDK's own Payment/CreditMemo objects for
what a QuickBooks user does) against the emulator, and through the real sync service into the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from quickbooks.objects.base import LinkedTxn, Ref
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.payment import Payment as QbPayment
from quickbooks.objects.payment import PaymentLine

from addon.models import CreditAllocation, Invoice
from addon.services.sync import backfill, sync_incremental
from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.emulator.testing import QboSandbox, authorize, make_connector, start_qbo_emulator
from connectors.tokens import InMemoryTokenStore


@pytest.fixture
def sandbox() -> Iterator[QboSandbox]:
    with start_qbo_emulator(seed=11, customers=5, invoices=120) as sb:
        yield sb


@pytest.fixture
def connector(sandbox: QboSandbox) -> QuickBooksConnector:
    return make_connector(sandbox, InMemoryTokenStore(authorize(sandbox)), sleep=lambda _s: None)


def _ref(value: str) -> Ref:
    ref = Ref()
    ref.value = value
    return ref


def _memo(connector: QuickBooksConnector, customer_id: str, amount: Decimal, day: date) -> str:
    memo = CreditMemo()
    memo.CustomerRef = _ref(customer_id)
    memo.TxnDate = day.isoformat()
    line = SalesItemLine()
    line.Amount = amount
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = _ref("1")
    memo.Line = [line]
    return str(memo.save(qb=connector.sdk()).Id)


def _apply(connector: QuickBooksConnector, customer_id: str, day: date,
           links: list[tuple[str, str, Decimal]]) -> QbPayment:
    """What QBO records when a user applies a credit memo to an invoice: a Payment of TotalAmt 0."""
    payment = QbPayment()
    payment.CustomerRef = _ref(customer_id)
    payment.TotalAmt = Decimal("0")
    payment.TxnDate = day.isoformat()
    for kind, txn_id, amount in links:
        line = PaymentLine()
        line.Amount = amount
        link = LinkedTxn()
        link.TxnId, link.TxnType = txn_id, kind
        line.LinkedTxn = [link]
        payment.Line.append(line)
    saved: QbPayment = payment.save(qb=connector.sdk())
    return saved


def _open_invoices(sandbox: QboSandbox, n: int) -> list[dict[str, Any]]:
    """``n`` open invoices of one customer."""
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for inv in sandbox.store.all("Invoice"):
        if inv["Balance"] > 0 and inv["Balance"] == inv["TotalAmt"]:
            by_customer.setdefault(inv["CustomerRef"]["value"], []).append(inv)
    return next(v[:n] for v in by_customer.values() if len(v) >= n)


def _allocations(db: Any, tenant_id: int) -> dict[str, tuple[str, Decimal, date | None]]:
    """source payment id -> (invoice remote id, amount, applied_on), for the credit the mirror knows."""
    rows = db.query(CreditAllocation).filter(CreditAllocation.tenant_id == tenant_id,
                                             CreditAllocation.source_id.is_not(None))
    return {r.source_id: (r.invoice_remote_id, r.amount, r.applied_on) for r in rows}


def _now() -> datetime:
    return datetime.now(UTC)


def test_backfill_mirrors_every_seeded_credit_application_dated_by_its_payment(
        db, make_tenant, sandbox: QboSandbox, connector: QuickBooksConnector) -> None:
    tenant = make_tenant(platform="qbo", remote_id=sandbox.realm_id)
    applications = {p["Id"]: p for p in sandbox.store.all("Payment")
                    if any(t["TxnType"] == "CreditMemo" for line in p["Line"] for t in line["LinkedTxn"])}
    assert applications  # the seeded company applies some credit memos
    backfill(db, tenant, connector, now=_now())
    mirrored = _allocations(db, tenant.id)
    assert set(mirrored) == set(applications)
    for pid, payment in applications.items():
        invoice_line = next(line for line in payment["Line"] if line["LinkedTxn"][0]["TxnType"] == "Invoice")
        assert mirrored[pid] == (invoice_line["LinkedTxn"][0]["TxnId"], invoice_line["Amount"],
                                 date.fromisoformat(payment["TxnDate"]))
    # The applications are not money received: no payment row for them.
    assert not {p.remote_id for p in tenant_payments(db, tenant.id)} & set(applications)


def tenant_payments(db: Any, tenant_id: int) -> list[Any]:
    from addon.models import Payment

    return list(db.query(Payment).filter_by(tenant_id=tenant_id))


def test_a_later_application_of_an_old_memo_is_picked_up_and_dates_the_invoice(
        db, make_tenant, sandbox: QboSandbox, connector: QuickBooksConnector) -> None:
    first, second = _open_invoices(sandbox, 2)
    customer = first["CustomerRef"]["value"]
    memo_id = _memo(connector, customer, first["Balance"] + second["Balance"], date(2026, 6, 1))
    # Part of the memo closes the first invoice in June: known to the mirror from the install.
    early = _apply(connector, customer, date(2026, 6, 2),
                   [("Invoice", first["Id"], first["Balance"]), ("CreditMemo", memo_id, first["Balance"])])
    tenant = make_tenant(platform="qbo", remote_id=sandbox.realm_id)
    backfill(db, tenant, connector, now=_now())
    db.flush()
    assert db.query(Invoice).filter_by(tenant_id=tenant.id, remote_id=first["Id"]).one().fully_paid_on == date(
        2026, 6, 2)

    # In October the rest of the old memo closes the second invoice: an incremental (CDC) sync sees it.
    late = _apply(connector, customer, date(2026, 10, 20),
                  [("Invoice", second["Id"], second["Balance"]), ("CreditMemo", memo_id, second["Balance"])])
    assert sandbox.store.get("CreditMemo", memo_id)["RemainingCredit"] == 0
    sync_incremental(db, tenant, connector, now=_now())
    db.flush()
    known = _allocations(db, tenant.id)
    assert {k: known[k] for k in (str(early.Id), str(late.Id)) if k in known} == {
        str(early.Id): (first["Id"], first["Balance"], date(2026, 6, 2)),  # kept: not wiped by the memo's re-read
        str(late.Id): (second["Id"], second["Balance"], date(2026, 10, 20))}
    closed = db.query(Invoice).filter_by(tenant_id=tenant.id, remote_id=second["Id"]).one()
    assert (closed.status, closed.fully_paid_on) == ("paid", date(2026, 10, 20))


def test_a_later_application_moves_the_paid_date_from_the_part_payment(
        db, make_tenant, sandbox: QboSandbox, connector: QuickBooksConnector) -> None:
    """The reported symptom: an invoice part paid, then closed by a credit memo, was dated by the payment."""
    (inv,) = _open_invoices(sandbox, 1)
    customer, half = inv["CustomerRef"]["value"], (inv["Balance"] / 2).quantize(Decimal("0.01"))
    api = sandbox.user_api(authorize(sandbox).access_token)
    paid = api.post("payment", {"CustomerRef": {"value": customer}, "TotalAmt": str(half), "TxnDate": "2026-05-01",
                                "Line": [{"Amount": str(half), "LinkedTxn": [{"TxnId": inv["Id"],
                                                                             "TxnType": "Invoice"}]}]})
    assert paid.status_code == 200, paid.text
    rest = sandbox.store.get("Invoice", inv["Id"])["Balance"]
    memo_id = _memo(connector, customer, rest, date(2026, 5, 10))
    _apply(connector, customer, date(2026, 7, 15), [("Invoice", inv["Id"], rest), ("CreditMemo", memo_id, rest)])
    tenant = make_tenant(platform="qbo", remote_id=sandbox.realm_id)
    backfill(db, tenant, connector, now=_now())
    db.flush()
    row = db.query(Invoice).filter_by(tenant_id=tenant.id, remote_id=inv["Id"]).one()
    assert (row.status, row.fully_paid_on) == ("paid", date(2026, 7, 15))


@pytest.mark.parametrize("how", ["delete", "void"])
def test_a_deleted_or_voided_application_removes_its_allocation(
        db, make_tenant, sandbox: QboSandbox, connector: QuickBooksConnector, how: str) -> None:
    (inv,) = _open_invoices(sandbox, 1)
    customer = inv["CustomerRef"]["value"]
    memo_id = _memo(connector, customer, inv["Balance"], date(2026, 9, 1))
    applied = _apply(connector, customer, date(2026, 9, 2),
                     [("Invoice", inv["Id"], inv["Balance"]), ("CreditMemo", memo_id, inv["Balance"])])
    tenant = make_tenant(platform="qbo", remote_id=sandbox.realm_id)
    backfill(db, tenant, connector, now=_now())
    db.flush()
    assert str(applied.Id) in _allocations(db, tenant.id)

    if how == "delete":
        applied.delete(qb=connector.sdk())
    else:
        applied.void(qb=connector.sdk())
    assert sandbox.store.get("CreditMemo", memo_id)["RemainingCredit"] == inv["TotalAmt"]
    sync_incremental(db, tenant, connector, now=_now())
    db.flush()
    assert str(applied.Id) not in _allocations(db, tenant.id)
    reopened = db.query(Invoice).filter_by(tenant_id=tenant.id, remote_id=inv["Id"]).one()
    assert (reopened.status, reopened.fully_paid_on) == ("open", None)


def test_the_daily_backfill_drops_an_application_that_is_gone(
        db, make_tenant, sandbox: QboSandbox, connector: QuickBooksConnector) -> None:
    """Queries do not report deletions; a backfill that no longer lists the applying payment drops it."""
    (inv,) = _open_invoices(sandbox, 1)
    customer = inv["CustomerRef"]["value"]
    memo_id = _memo(connector, customer, inv["Balance"], date(2026, 9, 1))
    applied = _apply(connector, customer, date(2026, 9, 2),
                     [("Invoice", inv["Id"], inv["Balance"]), ("CreditMemo", memo_id, inv["Balance"])])
    tenant = make_tenant(platform="qbo", remote_id=sandbox.realm_id)
    backfill(db, tenant, connector, now=_now())
    db.flush()
    applied.delete(qb=connector.sdk())
    backfill(db, tenant, connector, now=_now())
    db.flush()
    assert str(applied.Id) not in _allocations(db, tenant.id)
