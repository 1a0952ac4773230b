"""Promises to pay and disputes: recorded, dated, audited, tenant-scoped; and what they change."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from addon.domain.dunning.stops import stop_reason
from addon.models import AuditLog, Customer, Invoice, Role
from addon.queueing import get_queue
from addon.services import collections
from addon.services.dunning_inputs import to_dunning_invoice

TODAY = date(2026, 12, 6)


@pytest.fixture
def book(db, make_tenant):
    tenant = make_tenant(name="Collect Ltd")
    acme = Customer(tenant_id=tenant.id, remote_id="c1", name="Acme")
    db.add(acme)
    db.flush()

    def inv(number: str, due: str, status: str = "open") -> Invoice:
        row = Invoice(tenant_id=tenant.id, remote_id=number, number=number, customer_id=acme.id, currency="GBP",
                      issue_date=TODAY - timedelta(days=45), due_date=TODAY - timedelta(days=15),
                      total=Decimal("800.00"), amount_due=Decimal(due), status=status)
        db.add(row)
        db.flush()
        return row

    invoices = {"open": inv("INV-1", "800.00"), "paid": inv("INV-2", "0.00", "paid")}
    db.commit()
    return tenant, invoices


def test_a_promise_is_recorded_dated_and_audited_once(db, book) -> None:
    tenant, invoices = book
    inv = invoices["open"]
    collections.record_promise(db, tenant, inv.id, TODAY + timedelta(days=10), TODAY, "user:7", "on the phone")
    collections.record_promise(db, tenant, inv.id, TODAY + timedelta(days=10), TODAY + timedelta(days=1), "user:7")
    assert (inv.promised_on, inv.promise_recorded_on) == (TODAY + timedelta(days=10), TODAY)  # same promise: kept
    collections.record_promise(db, tenant, inv.id, TODAY + timedelta(days=20), TODAY + timedelta(days=2), "user:7")
    assert (inv.promised_on, inv.promise_recorded_on) == (TODAY + timedelta(days=20), TODAY + timedelta(days=2))
    promised = TODAY + timedelta(days=20)
    assert stop_reason(to_dunning_invoice(inv, "c1", None), TODAY) == f"promise to pay by {promised.isoformat()}"
    assert stop_reason(to_dunning_invoice(inv, "c1", None), promised + timedelta(days=1)) is None  # broken
    collections.clear_promise(db, tenant, inv.id, "user:7")
    assert inv.promised_on is None
    assert inv.promise_recorded_on is None
    log = db.query(AuditLog).filter_by(object_id=str(inv.id)).order_by(AuditLog.id).all()
    assert [a.action for a in log] == ["invoice.promise_recorded", "invoice.promise_recorded",
                                       "invoice.promise_cleared"]
    assert log[0].actor == "user:7"
    assert log[0].reason == "on the phone"
    assert log[1].before["promised_on"] == (TODAY + timedelta(days=10)).isoformat()
    assert log[1].after["promised_on"] == (TODAY + timedelta(days=20)).isoformat()


def test_a_dispute_stops_dunning_until_resolved_and_keeps_its_date(db, book) -> None:
    tenant, invoices = book
    inv = invoices["open"]
    collections.record_dispute(db, tenant, inv.id, TODAY, "user:7", "short delivery")
    assert stop_reason(to_dunning_invoice(inv, "c1", None), TODAY) == "disputed"
    collections.resolve_dispute(db, tenant, inv.id, TODAY + timedelta(days=4), "user:7")
    assert stop_reason(to_dunning_invoice(inv, "c1", None), TODAY) is None
    assert inv.disputed_on == TODAY  # it was disputed: the risk model keeps counting it
    assert inv.dispute_resolved_on == TODAY + timedelta(days=4)
    assert [a.action for a in db.query(AuditLog).order_by(AuditLog.id)] == [
        "invoice.dispute_recorded", "invoice.dispute_resolved"]


@pytest.mark.parametrize(("invoice", "promised", "message"), [
    ("paid", TODAY + timedelta(days=3), "is not open"),
    ("open", TODAY - timedelta(days=1), "today or a later day"),
])
def test_what_cannot_be_recorded_is_refused_and_changes_nothing(db, book, invoice, promised, message) -> None:
    tenant, invoices = book
    with pytest.raises(collections.CollectionsError, match=message):
        collections.record_promise(db, tenant, invoices[invoice].id, promised, TODAY, "user:7")
    assert invoices[invoice].promised_on is None
    assert db.query(AuditLog).count() == 0


def test_another_organisations_invoice_is_not_found(db, book, make_tenant) -> None:
    _, invoices = book
    stranger = make_tenant(name="Someone else")
    with pytest.raises(collections.InvoiceNotFound):
        collections.record_dispute(db, stranger, invoices["open"].id, TODAY, "user:9")
    assert not invoices["open"].disputed


def _csrf(page) -> str:  # type: ignore[no-untyped-def]
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match
    return match.group(1)


def test_worklist_forms_record_a_promise_and_a_dispute(client, db, book, sign_in, redis_conn) -> None:  # type: ignore[no-untyped-def]
    tenant, invoices = book
    inv = invoices["open"]
    sign_in(tenant, Role.ADMIN)
    page = client.get(f"/tenants/{tenant.id}/worklist")
    assert b'name="promised_on"' in page.data
    promised = (date.today() + timedelta(days=7)).isoformat()
    resp = client.post(f"/tenants/{tenant.id}/invoices/{inv.id}/promise",
                       data={"csrf_token": _csrf(page), "promised_on": promised, "action": "record"})
    assert resp.status_code == 302
    page = client.get(f"/tenants/{tenant.id}/worklist")
    assert f"INV-1: Promise to pay by {promised} recorded.".encode() in page.data
    assert f"promised {promised}".encode() in page.data
    client.post(f"/tenants/{tenant.id}/invoices/{inv.id}/dispute",
                data={"csrf_token": _csrf(page), "reason": "wrong price", "action": "record"})
    db.expire_all()
    stored = db.get(Invoice, inv.id)
    assert stored.promised_on.isoformat() == promised
    assert stored.disputed
    assert db.query(AuditLog).filter_by(action="invoice.dispute_recorded").one().reason == "wrong price"
    refused = client.post(f"/tenants/{tenant.id}/invoices/{inv.id}/promise",
                          data={"csrf_token": _csrf(page), "promised_on": "yesterday", "action": "record"})
    assert refused.status_code == 422  # the worklist again, the reason on the invoice's row
    assert f'id="record-error-{inv.id}">Not recorded: promised_on must be an ISO date'.encode() in refused.data
    # without the CSRF token nothing is recorded
    assert client.post(f"/tenants/{tenant.id}/invoices/{inv.id}/dispute", data={"action": "resolve"}).status_code == 400


def test_json_api_records_and_clears_and_refuses_viewers(client, db, book, sign_in, redis_conn) -> None:  # type: ignore[no-untyped-def]
    tenant, invoices = book
    inv = invoices["open"]
    sign_in(tenant, Role.ADMIN)
    token = _csrf(client.get(f"/tenants/{tenant.id}/worklist"))
    headers = {"X-CSRFToken": token}
    url = f"/api/tenants/{tenant.id}/invoices/{inv.id}"
    promised = (date.today() + timedelta(days=5)).isoformat()
    ok = client.post(f"{url}/promise", json={"promised_on": promised, "note": "email"}, headers=headers)
    assert ok.status_code == 200
    assert ok.json["promised_on"] == promised
    assert get_queue("scoring", redis_conn).job_ids == [f"score-{tenant.id}"]  # a relevant change: re-score
    assert ok.json["promise_recorded_on"] is not None
    assert client.post(f"{url}/promise", json={"promised_on": "2020-01-01"}, headers=headers).status_code == 400
    assert client.post(f"{url}/promise", json=["not", "an", "object"], headers=headers).status_code == 400
    paid = client.post(f"/api/tenants/{tenant.id}/invoices/{invoices['paid'].id}/dispute", json={}, headers=headers)
    assert paid.status_code == 400
    assert "is not open" in paid.json["error"]
    assert client.post(f"/api/tenants/{tenant.id}/invoices/999999/dispute", json={}, headers=headers).status_code == 404
    cleared = client.delete(f"{url}/promise", headers=headers)
    assert cleared.json["promised_on"] is None


def test_viewers_see_the_worklist_but_record_nothing(client, db, book, sign_in, redis_conn) -> None:  # type: ignore[no-untyped-def]
    tenant, invoices = book
    sign_in(tenant, Role.VIEWER)
    page = client.get(f"/tenants/{tenant.id}/worklist")
    assert page.status_code == 200
    assert b"INV-1" in page.data
    assert b'name="promised_on"' not in page.data
    url = f"/api/tenants/{tenant.id}/invoices/{invoices['open'].id}/dispute"
    token = _csrf(client.get("/"))  # the home page's sign-out form carries the session's token
    assert client.post(url, json={}, headers={"X-CSRFToken": token}).status_code == 403
    db.expire_all()
    assert not db.get(Invoice, invoices["open"].id).disputed
    assert get_queue("scoring", redis_conn).job_ids == []



def test_a_promise_with_a_mistyped_year_is_refused(db, book) -> None:  # type: ignore[no-untyped-def]
    tenant, invoices = book
    with pytest.raises(collections.CollectionsError, match="is the year right"):
        collections.record_promise(db, tenant, invoices["open"].id, date(2207, 1, 31), TODAY, "user:7")
    assert invoices["open"].promised_on is None  # dunning would have stopped for 180 years
    collections.record_promise(db, tenant, invoices["open"].id, TODAY + timedelta(days=366), TODAY, "user:7")
