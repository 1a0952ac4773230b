"""Holding a customer's chasing: set and lifted (audited, tenant-scoped), read by the run (no reminder of any
channel while it applies, chasing again once it has expired), and from the worklist's forms and the JSON API."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.models import AuditLog, Customer, DunningAction, DunningHold, Invoice, Role
from addon.services import dunning_holds
from addon.services.dunning import preview, run_dunning
from addon.services.dunning_policies import tenant_today
from connectors.fake import InMemoryConnector
from tests.addon.dunning.conftest import DUE, at, contact, invoice

TODAY = DUE + timedelta(days=10)
NOW = datetime(2026, 11, 9, 10, tzinfo=UTC)


def _customer(db, ledger, remote_id: str = "C1") -> Customer:  # type: ignore[no-untyped-def]
    return db.scalar(select(Customer).where(Customer.tenant_id == ledger.tenant.id, Customer.remote_id == remote_id))


def _audit(db) -> list[AuditLog]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(AuditLog).where(AuditLog.action.like("customer.hold%")).order_by(AuditLog.id)))


def test_a_hold_is_set_replaced_and_lifted_with_an_audit_record_each_time(db, ledger) -> None:
    acme = _customer(db, ledger)
    until = TODAY + timedelta(days=30)
    hold = dunning_holds.set_hold(db, ledger.tenant, acme.id, "  payment plan agreed ", until, TODAY, NOW, "user:7")
    assert (hold.reason, hold.until, hold.set_by, hold.set_at) == ("payment plan agreed", until, "user:7", NOW)
    dunning_holds.set_hold(db, ledger.tenant, acme.id, "payment plan agreed", until, TODAY, NOW, "user:8")
    assert hold.set_by == "user:7"  # the same hold again: nothing changes, nothing audited
    dunning_holds.set_hold(db, ledger.tenant, acme.id, "in legal hands", None, TODAY, NOW, "user:8")
    dunning_holds.lift_hold(db, ledger.tenant, acme.id, TODAY, "user:9", "paid in full")
    dunning_holds.lift_hold(db, ledger.tenant, acme.id, TODAY, "user:9")  # nothing left to lift
    assert db.scalar(select(DunningHold)) is None
    log = _audit(db)
    assert [(a.action, a.actor, a.reason) for a in log] == [
        ("customer.hold_set", "user:7", "payment plan agreed"), ("customer.hold_set", "user:8", "in legal hands"),
        ("customer.hold_lifted", "user:9", "paid in full")]
    assert log[0].before is None
    assert log[0].after["until"] == until.isoformat()
    assert log[0].after["note"] == f"on hold until {until.isoformat()}: payment plan agreed"
    assert log[1].before["reason"] == "payment plan agreed"
    assert log[1].after["until"] is None
    assert log[2].before["note"] == "on hold: in legal hands"
    assert log[2].after is None
    assert {(a.object_type, a.object_id, a.tenant_id) for a in log} == {("customer", str(acme.id), ledger.tenant.id)}


@pytest.mark.parametrize(("reason", "until", "message"), [
    ("", None, "needs a reason"),
    ("   ", None, "needs a reason"),
    (None, None, "needs a reason"),
    ("x" * 201, None, "at most 200"),
    ("payment plan", TODAY - timedelta(days=1), "ends today or later"),
])
def test_a_hold_that_cannot_be_set_is_refused_and_changes_nothing(db, ledger, reason, until, message) -> None:
    with pytest.raises(dunning_holds.HoldError, match=message):
        dunning_holds.set_hold(db, ledger.tenant, _customer(db, ledger).id, reason, until, TODAY, NOW, "user:7")
    assert db.scalar(select(DunningHold)) is None
    assert _audit(db) == []


def test_another_organisations_customer_cannot_be_held(db, ledger, make_tenant) -> None:
    stranger = make_tenant(name="Someone else")
    with pytest.raises(dunning_holds.CustomerNotFound):
        dunning_holds.set_hold(db, stranger, _customer(db, ledger).id, "key account", None, TODAY, NOW, "user:7")
    with pytest.raises(dunning_holds.CustomerNotFound):
        dunning_holds.lift_hold(db, stranger, _customer(db, ledger).id, TODAY, "user:7")
    assert db.scalar(select(DunningHold)) is None


def test_the_run_sends_nothing_to_a_held_customer_until_the_hold_has_expired(db, ledger, mailer,
                                                                              smtp_server) -> None:
    until = TODAY + timedelta(days=3)  # Thursday: the day after is a working day
    dunning_holds.set_hold(db, ledger.tenant, _customer(db, ledger).id, "payment plan agreed", until, TODAY, NOW,
                           "user:7")
    db.commit()
    assert [a["customer"] for a in preview(db, ledger.tenant, TODAY)] == ["Globex BV"]
    summary = run_dunning(db, ledger.tenant, ledger.platform, at(TODAY), mailer)
    assert summary["sent"] == 1
    assert [m.rcpt_tos for m in smtp_server.sink.arrived] == [["ar@globex.example"]]
    assert not db.scalars(select(DunningAction).where(DunningAction.exactly_once_key.like("I1:%"))).all()
    # Its last day still holds; the day after, chasing resumes by itself (no job lifted it).
    last_day = run_dunning(db, ledger.tenant, ledger.platform, at(until), mailer)
    assert "sent" not in last_day
    assert last_day["skipped"] == 1
    run_dunning(db, ledger.tenant, ledger.platform, at(until + timedelta(days=1)), mailer)
    assert ["ap@acme.example"] in [m.rcpt_tos for m in smtp_server.sink.arrived[1:]]
    assert db.scalar(select(DunningHold)) is not None  # the expired row stays; it no longer applies


class _HeldMeanwhile(InMemoryConnector):
    """While the run re-reads I1, a controller extends Acme's expired hold (another request, its own transaction)."""

    engine: object = None

    def get_invoice(self, invoice_id: str):  # type: ignore[no-untyped-def]
        if invoice_id == "I1" and self.engine is not None:
            with Session(self.engine) as other:  # type: ignore[arg-type]
                other.scalar(select(DunningHold)).until = TODAY + timedelta(days=30)
                other.commit()
            self.engine = None
        return super().get_invoice(invoice_id)


def test_the_last_look_before_sending_sees_a_hold_changed_during_the_run(app, db, ledger, mailer,
                                                                          smtp_server) -> None:
    dunning_holds.set_hold(db, ledger.tenant, _customer(db, ledger).id, "payment plan agreed",
                           TODAY - timedelta(days=1), TODAY - timedelta(days=5), NOW, "user:7")
    db.commit()  # expired yesterday: the run's first plan chases Acme, and its session holds the row
    platform = _HeldMeanwhile(tenant_remote_id="org-dun")
    platform.seed(contacts=[contact("C1", "Acme Ltd", "ap@acme.example"),
                            contact("C2", "Globex BV", "ar@globex.example")],
                  invoices=[invoice("I1", "C1"), invoice("I2", "C2", "250.00")])
    platform.engine = app.extensions["cashline_db"].engine
    summary = run_dunning(db, ledger.tenant, platform, at(TODAY), mailer)
    assert summary["sent"] == 1
    assert [m.rcpt_tos for m in smtp_server.sink.arrived] == [["ar@globex.example"]]
    assert not db.scalars(select(DunningAction).where(DunningAction.exactly_once_key.like("I1:%"))).all()


def _csrf(page) -> str:  # type: ignore[no-untyped-def]
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match
    return match.group(1)


def test_worklist_forms_hold_and_lift_a_customer(client, db, ledger, sign_in) -> None:  # type: ignore[no-untyped-def]
    tenant = ledger.tenant
    acme = _customer(db, ledger)
    row = db.scalar(select(Invoice.id).where(Invoice.remote_id == "I1"))
    sign_in(tenant, Role.ADMIN)
    page = client.get(f"/tenants/{tenant.id}/worklist")
    assert f'/tenants/{tenant.id}/customers/{acme.id}/hold"'.encode() in page.data
    until = (tenant_today(db, tenant) + timedelta(days=20)).isoformat()
    resp = client.post(f"/tenants/{tenant.id}/customers/{acme.id}/hold",
                       data={"csrf_token": _csrf(page), "reason": "payment plan agreed", "until": until,
                             "action": "set", "row": str(row)})
    assert resp.status_code == 302
    page = client.get(f"/tenants/{tenant.id}/worklist")
    text = page.get_data(as_text=True)
    assert f"Acme Ltd: on hold, no reminders (on hold until {until}: payment plan agreed)." in text
    assert "INV-I1" in text  # the invoices stay on the worklist, with the hold beside the customer
    assert f"on hold</span> <span class=\"muted\">on hold until {until}: payment plan agreed" in text
    # Who set it, as a person reads it (the user's name and e-mail), not the audit actor "user:12".
    assert f"set by Admin (admin@example.test) on {datetime.now(UTC).date().isoformat()}" in text
    assert "user:" not in text
    assert 'value="lift">Lift hold' in text
    refused = client.post(f"/tenants/{tenant.id}/customers/{acme.id}/hold",
                          data={"csrf_token": _csrf(page), "reason": " ", "until": "2027-02-30", "action": "set",
                                "row": str(row)})
    assert refused.status_code == 422  # the worklist again, the reason on the row, what was typed kept
    assert f'id="record-error-{row}">Not held: until must be an ISO date'.encode() in refused.data
    assert client.post(f"/tenants/{tenant.id}/customers/{acme.id}/hold", data={"action": "lift"}).status_code == 400
    assert client.post(f"/tenants/{tenant.id}/customers/{acme.id}/hold",
                       data={"csrf_token": _csrf(page), "action": "lift"}).status_code == 302
    db.expire_all()
    assert db.scalar(select(DunningHold)) is None
    assert [a.action for a in _audit(db)] == ["customer.hold_set", "customer.hold_lifted"]
    assert client.post(f"/tenants/{tenant.id}/customers/999999/hold",
                       data={"csrf_token": _csrf(page), "action": "lift"}).status_code == 404


def test_a_refused_hold_keeps_what_was_typed(client, db, ledger, sign_in) -> None:  # type: ignore[no-untyped-def]
    tenant = ledger.tenant
    acme = _customer(db, ledger)
    row = db.scalar(select(Invoice.id).where(Invoice.remote_id == "I1"))
    sign_in(tenant, Role.ADMIN)
    page = client.get(f"/tenants/{tenant.id}/worklist")
    refused = client.post(f"/tenants/{tenant.id}/customers/{acme.id}/hold",
                          data={"csrf_token": _csrf(page), "reason": "key account", "until": "2020-01-01",
                                "action": "set", "row": str(row)})
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "Not held: a hold ends today or later, not 2020-01-01" in text
    assert 'value="key account"' in text
    assert 'value="2020-01-01"' in text


def test_json_api_sets_lists_and_lifts_holds(client, db, ledger, sign_in) -> None:  # type: ignore[no-untyped-def]
    tenant = ledger.tenant
    acme, globex = _customer(db, ledger), _customer(db, ledger, "C2")
    sign_in(tenant, Role.ADMIN)
    headers = {"X-CSRFToken": _csrf(client.get(f"/tenants/{tenant.id}/worklist"))}
    url = f"/api/tenants/{tenant.id}/customers/{acme.id}/hold"
    ok = client.post(url, json={"reason": "in legal hands"}, headers=headers)
    assert ok.status_code == 200
    assert ok.json["hold"]["note"] == "on hold: in legal hands"
    assert ok.json["hold"]["until"] is None
    assert ok.json["hold"]["set_by"].startswith("user:")
    assert ok.json["hold"]["set_by_name"] == "Admin (admin@example.test)"
    assert (ok.json["customer_id"], ok.json["remote_id"], ok.json["name"]) == (acme.id, "C1", "Acme Ltd")
    until = (tenant_today(db, tenant) + timedelta(days=3)).isoformat()
    assert client.post(f"/api/tenants/{tenant.id}/customers/{globex.id}/hold",
                       json={"reason": "key account", "until": until}, headers=headers).status_code == 200
    assert client.get(url).json["hold"]["reason"] == "in legal hands"
    listed = client.get(f"/api/tenants/{tenant.id}/holds?limit=1")
    assert [c["name"] for c in listed.json] == ["Acme Ltd"]
    assert listed.headers["X-Total-Count"] == "2"
    assert 'rel="next"' in listed.headers["Link"]
    assert [c["hold"]["until"] for c in client.get(f"/api/tenants/{tenant.id}/holds?offset=1").json] == [until]
    assert client.get(f"/api/tenants/{tenant.id}/holds?limit=0").status_code == 400
    assert [c["hold"]["set_by_name"] for c in listed.json] == ["Admin (admin@example.test)"]
    work = {w["customer"]: w["hold"] for w in client.get(f"/api/tenants/{tenant.id}/worklist").json}
    assert work["Acme Ltd"]["reason"] == "in legal hands"
    assert work["Acme Ltd"]["set_by_name"] == "Admin (admin@example.test)"
    assert client.post(url, json={"reason": ""}, headers=headers).status_code == 400
    assert client.post(url, json={"reason": "x", "until": "soon"}, headers=headers).json["error"].startswith("until")
    assert client.post(url, json=["not", "an", "object"], headers=headers).status_code == 400
    assert client.post(f"/api/tenants/{tenant.id}/customers/999999/hold", json={"reason": "x"},
                       headers=headers).status_code == 404
    lifted = client.delete(url, json={"note": "settled"}, headers=headers)
    assert lifted.status_code == 200
    assert lifted.json["hold"] is None
    assert client.get(f"/api/tenants/{tenant.id}/holds").headers["X-Total-Count"] == "1"
    assert client.post(url, json={"reason": "x"}).status_code == 400  # no CSRF token


def test_viewers_see_holds_but_cannot_set_or_lift_them(client, db, ledger, sign_in) -> None:  # type: ignore[no-untyped-def]
    tenant = ledger.tenant
    acme = _customer(db, ledger)
    dunning_holds.set_hold(db, tenant, acme.id, "key account", None, date.today(), NOW, "user:7")
    db.commit()
    sign_in(tenant, Role.VIEWER)
    page = client.get(f"/tenants/{tenant.id}/worklist")
    assert b"on hold: key account" in page.data
    assert b"Lift hold" not in page.data
    assert client.get(f"/api/tenants/{tenant.id}/customers/{acme.id}/hold").json["hold"]["reason"] == "key account"
    token = _csrf(client.get("/"))
    url = f"/api/tenants/{tenant.id}/customers/{acme.id}/hold"
    assert client.delete(url, headers={"X-CSRFToken": token}).status_code == 403
    assert client.post(f"/tenants/{tenant.id}/customers/{acme.id}/hold",
                       data={"csrf_token": token, "action": "lift"}).status_code == 403
    db.expire_all()
    assert db.scalar(select(DunningHold.reason)) == "key account"


def test_a_reminder_waiting_for_approval_is_cancelled_when_its_customer_is_held(db, ledger, mailer) -> None:
    final_day = DUE + timedelta(days=45)  # the final stage, which needs an admin's approval
    run_dunning(db, ledger.tenant, ledger.platform, at(final_day), mailer)
    assert db.scalar(select(DunningAction.status).where(DunningAction.exactly_once_key == "I1:final")) == \
        "awaiting_approval"
    dunning_holds.set_hold(db, ledger.tenant, _customer(db, ledger).id, "in legal hands", None, final_day, NOW,
                           "user:7")
    db.commit()
    summary = run_dunning(db, ledger.tenant, ledger.platform, at(final_day) + timedelta(hours=1), mailer)
    assert summary["approvals_cancelled"] == 1
    db.expire_all()
    rows = {a.exactly_once_key: a for a in db.scalars(select(DunningAction))}
    assert rows["I1:final"].status == "cancelled"
    assert rows["I1:final"].error == "cancelled: the invoice is not chased: on hold: in legal hands"
    assert rows["I2:final"].status == "awaiting_approval"  # Globex is not held


@pytest.mark.parametrize(("name", "email", "label"), [
    ("Ann Smith", "ann@example.test", "Ann Smith (ann@example.test)"), ("Ann Smith", None, "Ann Smith"),
    (None, "ann@example.test", "ann@example.test"), (" ", "", "")])
def test_a_user_is_written_by_name_and_email(name, email, label) -> None:  # type: ignore[no-untyped-def]
    assert dunning_holds.user_label(name, email) == label


def test_actors_without_a_user_behind_them_keep_a_readable_label(db, ledger) -> None:  # type: ignore[no-untyped-def]
    assert dunning_holds.actor_names(db, ["user:999999", "system", "user:abc"]) == {}
    assert dunning_holds.actor_label("user:999999") == "user 999999"
    assert dunning_holds.actor_label("system") == "system"
