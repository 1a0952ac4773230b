"""A reminder the mail server refused for now is retried on later runs (bounded, with back-off); one it
refused for good fails at once and lands on the worklist. Real SMTP server, real database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from addon.models import AuditLog, DunningAction
from addon.services.dunning import open_tasks, run_dunning
from addon.services.dunning_send import MAX_SEND_ATTEMPTS, RETRY_BACKOFF
from tests.addon.dunning.conftest import DUE, at

NOW = at(DUE + timedelta(days=10))


def _row(db, key: str = "I1:overdue_7") -> DunningAction:  # type: ignore[no-untyped-def]
    db.expire_all()
    return db.scalar(select(DunningAction).where(DunningAction.exactly_once_key == key))


def test_a_full_mailbox_is_retried_after_the_backoff_and_sent_exactly_once(db, ledger, mailer,
                                                                           smtp_server) -> None:
    smtp_server.sink.refuse["ap@acme.example"] = "452 4.2.2 Mailbox full, try later"
    first = run_dunning(db, ledger.tenant, ledger.platform, NOW, mailer)
    assert (first["retry"], first["sent"]) == (1, 1)
    row = _row(db)
    assert (row.status, row.attempts) == ("retry", 1)
    assert row.retry_at == NOW + RETRY_BACKOFF[0]
    assert "452" in row.error

    # Before the back-off has passed, a run does not even talk to the server about it.
    calls = smtp_server.sink.data_calls
    early = run_dunning(db, ledger.tenant, ledger.platform, NOW + RETRY_BACKOFF[0] / 2, mailer)
    assert early["retry_later"] == 1
    assert smtp_server.sink.data_calls == calls

    del smtp_server.sink.refuse["ap@acme.example"]
    later = run_dunning(db, ledger.tenant, ledger.platform, NOW + RETRY_BACKOFF[0], mailer)
    assert later["sent"] == 1
    assert (_row(db).status, _row(db).attempts) == ("sent", 1)
    again = run_dunning(db, ledger.tenant, ledger.platform, NOW + timedelta(days=1), mailer)
    assert "sent" not in again
    acme = [m for m in smtp_server.sink.arrived if m.rcpt_tos == ["ap@acme.example"]]
    assert len(acme) == 1  # never a duplicate
    assert ledger.platform.notes["I1"] == ["Reminder 3 (firm) sent to ap@acme.example"]


def test_mailbox_full_552_until_the_last_attempt_fails_with_the_reason_audited(db, ledger, mailer,
                                                                              smtp_server) -> None:
    smtp_server.sink.data_reply = "552 5.2.2 Mailbox full"
    when = NOW
    for attempt in range(1, MAX_SEND_ATTEMPTS + 1):
        summary = run_dunning(db, ledger.tenant, ledger.platform, when, mailer)
        if attempt < MAX_SEND_ATTEMPTS:
            assert summary["retry"] == 2, summary
            assert (_row(db).status, _row(db).attempts) == ("retry", attempt)
            retry_at = _row(db).retry_at
            when = max(retry_at, at(retry_at.date()))  # a retry due at night goes out in the send hours
        else:
            assert summary["failed"] == 2, summary
    row = _row(db)
    assert (row.status, row.attempts) == ("failed", MAX_SEND_ATTEMPTS)
    assert f"gave up after {MAX_SEND_ATTEMPTS} attempts" in row.error
    assert "552" in row.error
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "reminder.failed",
                                              AuditLog.object_id == "I1")).one()
    assert audit.after["attempts"] == MAX_SEND_ATTEMPTS
    assert "552" in audit.after["error"]
    assert len(db.scalars(select(AuditLog).where(AuditLog.action == "reminder.retry_scheduled",
                                                 AuditLog.object_id == "I1")).all()) == MAX_SEND_ATTEMPTS - 1
    smtp_server.sink.data_reply = ""
    after = run_dunning(db, ledger.tenant, ledger.platform, when + timedelta(days=1), mailer)
    assert "sent" not in after  # a failed stage is history: not planned again
    assert smtp_server.sink.arrived == []


def test_a_permanent_refusal_fails_at_once_and_goes_on_the_worklist(db, ledger, mailer, smtp_server) -> None:
    smtp_server.sink.data_reply = "550 5.1.1 No such user here"
    first = run_dunning(db, ledger.tenant, ledger.platform, NOW, mailer)
    assert first["failed"] == 2
    assert smtp_server.sink.data_calls == 2  # one try per customer, no retries
    row = _row(db)
    assert (row.status, row.attempts, row.retry_at) == ("failed", 1, None)
    assert "550" in row.error
    tasks = open_tasks(db, ledger.tenant, NOW - timedelta(days=30))
    assert {t["number"] for t in tasks} == {"INV-I1", "INV-I2"}
    assert all("550" in t["why"] for t in tasks)
    smtp_server.sink.data_reply = ""
    assert "sent" not in run_dunning(db, ledger.tenant, ledger.platform, NOW + timedelta(hours=2), mailer)
