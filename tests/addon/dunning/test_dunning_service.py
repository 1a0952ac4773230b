"""run_dunning against the real database, a real SMTP server and the in-memory platform."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from addon.domain.types import Allocation, NewPayment
from addon.models import AuditLog, Customer, DunningAction, DunningPolicy, Invoice, Suppression
from addon.services.dunning import approve, pending_approvals, preview, run_dunning, unsubscribe
from tests.addon.dunning.conftest import DUE, at, make_mailer


def _actions(db) -> dict[str, DunningAction]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return {a.exactly_once_key: a for a in db.scalars(select(DunningAction))}


def test_first_run_seeds_the_default_policy_and_sends_one_reminder_per_customer(db, ledger, mailer,
                                                                                 smtp_server) -> None:
    summary = run_dunning(db, ledger.tenant, ledger.platform, at(DUE + timedelta(days=10)), mailer)

    assert summary["sent"] == 2
    policy = db.scalar(select(DunningPolicy).where(DunningPolicy.tenant_id == ledger.tenant.id))
    assert [s.key for s in policy.stages] == ["pre_due", "due", "overdue_7", "overdue_14", "overdue_30", "final"]
    mails = {m.rcpt_tos[0]: m.message for m in smtp_server.sink.arrived}
    assert set(mails) == {"ap@acme.example", "ar@globex.example"}
    acme = mails["ap@acme.example"]
    assert acme["Subject"] == "Reminder: overdue payment to Example Supplies Ltd"  # overdue_7's shipped template
    assert "INV-I1" in acme.get_content()
    assert "£100.00" in acme.get_content()
    assert acme["List-Unsubscribe"].startswith("<http://127.0.0.1:5000/unsubscribe/")
    rows = _actions(db)
    assert rows["I1:overdue_7"].status == "sent"
    assert rows["I1:overdue_7"].message_id == acme["Message-ID"]
    assert rows["I1:overdue_7"].recipient == "ap@acme.example"
    # The ERP note, written with the exactly-once key as idempotency key.
    assert ledger.platform.notes["I1"] == ["Reminder 3 (firm) sent to ap@acme.example"]
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "reminder.sent")).all()
    assert {a.object_id for a in audit} == {"I1", "I2"}
    assert "catch-up" in audit[0].reason  # the "due" stage was missed and superseded


def test_a_second_run_the_same_day_sends_nothing(db, ledger, mailer, smtp_server) -> None:
    now = at(DUE + timedelta(days=10))
    run_dunning(db, ledger.tenant, ledger.platform, now, mailer)
    again = run_dunning(db, ledger.tenant, ledger.platform, now + timedelta(hours=3), mailer)
    assert "sent" not in again
    assert len(smtp_server.sink.arrived) == 2
    assert len(ledger.platform.notes["I1"]) == 1


def test_an_invoice_paid_in_the_erp_since_the_last_sync_is_not_chased(db, ledger, mailer, smtp_server) -> None:
    ledger.platform.create_payment(NewPayment(contact_id="C1", date=date(2026, 11, 8), currency="GBP",
                                              allocations=(Allocation("I1", Decimal("100.00")),)),
                                   idempotency_key="pay-1")
    summary = run_dunning(db, ledger.tenant, ledger.platform, at(DUE + timedelta(days=10)), mailer)

    assert summary["sent"] == 1
    assert summary["stopped_now"] == 1
    assert [m.rcpt_tos for m in smtp_server.sink.arrived] == [["ar@globex.example"]]
    db.expire_all()
    assert db.scalar(select(Invoice).where(Invoice.remote_id == "I1")).status == "paid"  # mirror refreshed
    stop = db.scalar(select(AuditLog).where(AuditLog.action == "reminder.stopped"))
    assert stop.object_id == "I1"
    assert "paid" in stop.reason


def test_disputed_and_promised_invoices_are_left_alone(db, ledger, mailer, smtp_server) -> None:
    now = at(DUE + timedelta(days=10))
    i1 = db.scalar(select(Invoice).where(Invoice.remote_id == "I1"))
    i2 = db.scalar(select(Invoice).where(Invoice.remote_id == "I2"))
    i1.disputed = True
    i2.promised_on = (now + timedelta(days=3)).date()
    db.commit()
    summary = run_dunning(db, ledger.tenant, ledger.platform, now, mailer)
    assert summary.get("sent", 0) == 0
    assert summary["skipped"] == 2
    assert smtp_server.sink.arrived == []


def test_missing_email_becomes_a_worklist_task_with_an_erp_note(db, ledger, mailer, smtp_server) -> None:
    customer = db.scalar(select(Customer).where(Customer.remote_id == "C2"))
    customer.emails = []
    db.scalar(select(Invoice).where(Invoice.remote_id == "I2")).billing_email = None
    db.commit()
    summary = run_dunning(db, ledger.tenant, ledger.platform, at(DUE + timedelta(days=10)), mailer)
    assert summary == {**summary, "sent": 1, "task": 1}
    task = _actions(db)["I2:overdue_7"]
    assert (task.status, task.channel) == ("task", "task")
    assert "no usable email address" in task.reason
    assert ledger.platform.notes["I2"] == ["Reminder 3 (firm) put on the collections worklist (call or letter)"]


def test_final_notice_waits_for_approval_then_goes_out_on_the_next_run(db, ledger, mailer, smtp_server) -> None:
    now = at(DUE + timedelta(days=46))  # +45: the final notice, which needs approval
    summary = run_dunning(db, ledger.tenant, ledger.platform, now, mailer)
    assert summary["awaiting_approval"] == 2
    assert smtp_server.sink.arrived == []
    assert _actions(db)["I1:final"].status == "awaiting_approval"
    waiting = pending_approvals(db, ledger.tenant)
    assert {w["customer"] for w in waiting} == {"Acme Ltd", "Globex BV"}

    acme = next(w for w in waiting if w["customer"] == "Acme Ltd")
    assert approve(db, ledger.tenant, acme["customer_id"], actor="user:1") == 1
    db.commit()
    again = run_dunning(db, ledger.tenant, ledger.platform, now + timedelta(hours=1), mailer)
    assert again["sent"] == 1
    assert again["awaiting_approval"] == 1
    assert [m.rcpt_tos for m in smtp_server.sink.arrived] == [["ap@acme.example"]]
    assert smtp_server.sink.arrived[0].message["Subject"].startswith("Final notice")
    assert _actions(db)["I1:final"].status == "sent"
    assert _actions(db)["I2:final"].status == "awaiting_approval"


def test_smtp_down_releases_the_claims_and_a_later_run_sends(db, ledger, smtp_server, closed_port) -> None:
    now = at(DUE + timedelta(days=10))
    down = run_dunning(db, ledger.tenant, ledger.platform, now, make_mailer(closed_port))
    assert down["deferred"] == 2
    assert _actions(db) == {}  # nothing is recorded as sent or claimed
    assert db.scalar(select(AuditLog).where(AuditLog.action == "reminder.deferred")) is not None
    up = run_dunning(db, ledger.tenant, ledger.platform, now + timedelta(hours=1), make_mailer(smtp_server.port))
    assert up["sent"] == 2
    assert len(smtp_server.sink.arrived) == 2


def test_a_hard_bounce_suppresses_the_address_and_the_next_run_makes_a_task(db, ledger, mailer,
                                                                            smtp_server) -> None:
    smtp_server.sink.refuse["ap@acme.example"] = "550 5.1.1 No such user"
    now = at(DUE + timedelta(days=10))
    first = run_dunning(db, ledger.tenant, ledger.platform, now, mailer)
    assert first["failed"] == 1
    assert first["sent"] == 1
    assert db.scalar(select(Suppression.reason).where(
        Suppression.channel == "email", Suppression.address == "ap@acme.example")) == "hard_bounce"
    second = run_dunning(db, ledger.tenant, ledger.platform, now + timedelta(hours=1), mailer)
    assert second["task"] == 1
    assert _actions(db)["I1:overdue_7"].status == "task"


def test_unsubscribe_suppresses_every_address_of_the_customer(db, ledger, mailer, smtp_server) -> None:
    assert unsubscribe(db, ledger.tenant, "C1") == 1
    db.commit()
    summary = run_dunning(db, ledger.tenant, ledger.platform, at(DUE + timedelta(days=10)), mailer)
    assert summary["task"] == 1
    assert summary["sent"] == 1
    assert [m.rcpt_tos for m in smtp_server.sink.arrived] == [["ar@globex.example"]]
    # The opt-out reaches the planner as the suppressed addresses: the task says so.
    assert "every one is on the suppression list: unsubscribed or bounced" in _actions(db)["I1:overdue_7"].reason


def test_future_send_times_wait_for_a_later_run(db, ledger, mailer, smtp_server) -> None:
    early = at(DUE + timedelta(days=10), hour=6)  # before the 09:00 send hour
    summary = run_dunning(db, ledger.tenant, ledger.platform, early, mailer)
    assert summary["later"] == 2
    assert smtp_server.sink.arrived == []
    assert run_dunning(db, ledger.tenant, ledger.platform, early + timedelta(hours=3), mailer)["sent"] == 2


def test_preview_lists_tomorrows_actions_without_sending(db, ledger, smtp_server) -> None:
    actions = preview(db, ledger.tenant, DUE + timedelta(days=10))
    assert [(a["customer"], a["stage"], a["tone"], a["channel"]) for a in actions] == [
        ("Acme Ltd", "overdue_7", "firm", "email"), ("Globex BV", "overdue_7", "firm", "email")]
    assert actions[0]["send_at"] == datetime(2026, 11, 9, 9, tzinfo=UTC).isoformat()  # 09:00 London (GMT)
    assert smtp_server.sink.arrived == []
    assert db.scalars(select(DunningAction)).all() == []


def test_a_failed_erp_note_is_retried_by_the_next_run_with_the_same_key(db, ledger, mailer, smtp_server,
                                                                        monkeypatch) -> None:
    from connectors.errors import TransientError

    real = ledger.platform.add_invoice_note
    keys: list[str] = []

    def flaky(invoice_id: str, text: str, *, idempotency_key: str) -> None:
        keys.append(idempotency_key)
        if keys.count(keys[0]) <= 2 and idempotency_key == keys[0]:  # the send, and the end-of-run retry
            raise TransientError("Xero is having a moment", status=503)
        real(invoice_id, text, idempotency_key=idempotency_key)

    monkeypatch.setattr(ledger.platform, "add_invoice_note", flaky)
    now = at(DUE + timedelta(days=10))
    run_dunning(db, ledger.tenant, ledger.platform, now, mailer)
    failed = [a for a in _actions(db).values() if (a.error or "").startswith("erp note failed")]
    assert len(failed) == 1
    assert failed[0].status == "sent"  # the reminder itself went out
    again = run_dunning(db, ledger.tenant, ledger.platform, now + timedelta(hours=1), mailer)
    assert again["notes_retried"] == 1
    assert keys.count(failed[0].exactly_once_key) == 3
    assert all(a.error is None for a in _actions(db).values())
    assert len(smtp_server.sink.arrived) == 2
