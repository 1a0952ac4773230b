"""A reminder the mail server deferred (a ``retry`` row) whose reminder no longer applies is cancelled by the
next run (or the disconnect), with the reason and an audit record, never left as ``retry`` for ever and never
deleted. Real database, real SMTP server, the in-memory platform."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from addon.domain.types import Allocation, NewPayment
from addon.models import AuditLog, DunningAction, DunningPolicy, Invoice
from addon.services.collections import record_dispute, record_promise
from addon.services.dunning import run_dunning
from addon.services.dunning_policies import ensure_default_policy, primary_stages
from addon.services.dunning_send import RETRY_BACKOFF
from addon.services.dunning_settings import delete_stage, set_enabled
from addon.services.install import disconnect_tenant, platform_disconnected
from addon.services.sync import sync_incremental
from tests.addon.dunning.conftest import DUE, at

NOW = at(DUE + timedelta(days=10))  # Monday 9 Nov: overdue_7 for I1 (Acme) and I2 (Globex)
LATER = NOW + RETRY_BACKOFF[0]  # the retry is due again


def _row(db, key: str = "I1:overdue_7") -> DunningAction:  # type: ignore[no-untyped-def]
    db.expire_all()
    return db.scalar(select(DunningAction).where(DunningAction.exactly_once_key == key))


def _deferred(db, ledger, mailer, smtp_server) -> None:  # type: ignore[no-untyped-def]
    """Acme's mailbox is full: its overdue_7 reminder becomes a retry row; the server then recovers."""
    smtp_server.sink.refuse["ap@acme.example"] = "452 4.2.2 Mailbox full, try later"
    assert run_dunning(db, ledger.tenant, ledger.platform, NOW, mailer)["retry"] == 1
    assert _row(db).status == "retry"
    del smtp_server.sink.refuse["ap@acme.example"]


def _assert_cancelled(db, reason: str) -> None:  # type: ignore[no-untyped-def]
    row = _row(db)
    assert (row.status, row.attempts, row.retry_at) == ("cancelled", 1, None)
    assert row.error.startswith(f"cancelled: {reason}")
    assert "452" in row.error  # the deferral that made it a retry is kept
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "reminder.retry_cancelled")).one()
    assert (audit.object_id, audit.reason) == ("I1", reason)
    assert audit.before["status"] == "retry"
    assert audit.after == {"status": "cancelled", "stage": "overdue_7", "attempts": 1}


def _acme_mails(smtp_server) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for m in smtp_server.sink.arrived if m.rcpt_tos == ["ap@acme.example"])


def _pay_i1(ledger) -> None:  # type: ignore[no-untyped-def]
    ledger.platform.create_payment(NewPayment(contact_id="C1", date=date(2026, 11, 9), currency="GBP",
                                              allocations=(Allocation("I1", Decimal("100.00")),)),
                                   idempotency_key="pay-i1")


def test_paid_after_the_sync_the_retry_is_cancelled(db, ledger, mailer, smtp_server) -> None:
    _deferred(db, ledger, mailer, smtp_server)
    _pay_i1(ledger)
    sync_incremental(db, ledger.tenant, ledger.platform, now=NOW)
    db.commit()
    summary = run_dunning(db, ledger.tenant, ledger.platform, LATER, mailer)
    assert summary["retries_cancelled"] == 1
    _assert_cancelled(db, "the invoice is paid")
    assert _acme_mails(smtp_server) == 0
    assert "retries_cancelled" not in run_dunning(db, ledger.tenant, ledger.platform, LATER + timedelta(days=1),
                                                  mailer)


def test_paid_in_the_erp_and_found_on_the_re_read_the_retry_is_cancelled_in_the_same_run(db, ledger, mailer,
                                                                                        smtp_server) -> None:
    _deferred(db, ledger, mailer, smtp_server)
    _pay_i1(ledger)  # the mirror still says open: the run plans the retry, re-reads I1 and finds it paid
    summary = run_dunning(db, ledger.tenant, ledger.platform, LATER, mailer)
    assert summary["stopped_now"] == 1
    _assert_cancelled(db, "the invoice is paid")
    assert _acme_mails(smtp_server) == 0


def test_disputed_the_retry_is_cancelled(db, ledger, mailer, smtp_server) -> None:
    _deferred(db, ledger, mailer, smtp_server)
    i1 = db.scalar(select(Invoice).where(Invoice.remote_id == "I1"))
    record_dispute(db, ledger.tenant, i1.id, NOW.date(), "user:1", "wrong quantity")
    db.commit()
    run_dunning(db, ledger.tenant, ledger.platform, LATER, mailer)
    _assert_cancelled(db, "the invoice is not chased: disputed")
    assert _acme_mails(smtp_server) == 0


def test_promised_the_retry_is_cancelled(db, ledger, mailer, smtp_server) -> None:
    _deferred(db, ledger, mailer, smtp_server)
    i1 = db.scalar(select(Invoice).where(Invoice.remote_id == "I1"))
    record_promise(db, ledger.tenant, i1.id, date(2026, 11, 20), NOW.date(), "user:1")
    db.commit()
    run_dunning(db, ledger.tenant, ledger.platform, LATER, mailer)
    _assert_cancelled(db, "the invoice is not chased: promise to pay by 2026-11-20")
    # The broken promise resumes the sequence with the next stage, not the stale deferred one.
    run_dunning(db, ledger.tenant, ledger.platform, at(date(2026, 11, 23)), mailer)
    assert _row(db, "I1:overdue_14").status == "sent"
    assert _row(db).status == "cancelled"


def test_stage_deleted_from_the_policy_the_retry_is_cancelled(db, ledger, mailer, smtp_server) -> None:
    _deferred(db, ledger, mailer, smtp_server)
    policy = ensure_default_policy(db, ledger.tenant)
    stage = next(s for s in primary_stages(policy) if s.key == "overdue_7")
    assert delete_stage(db, ledger.tenant, policy, stage, "user:1") is None
    db.commit()
    run_dunning(db, ledger.tenant, ledger.platform, LATER, mailer)
    _assert_cancelled(db, "stage 'overdue_7' is no longer in the policy 'Standard'")


def test_superseded_by_a_later_stage_the_retry_is_cancelled(db, ledger, mailer, smtp_server) -> None:
    _deferred(db, ledger, mailer, smtp_server)
    # Not run again until overdue_14 is due: the catch-up sends overdue_14, overdue_7 will never be planned.
    run_dunning(db, ledger.tenant, ledger.platform, at(DUE + timedelta(days=17)), mailer)  # a Monday
    assert _row(db, "I1:overdue_14").status == "sent"
    _assert_cancelled(db, "stage 'overdue_7' is no longer planned for this invoice (a later stage is due, or its "
                          "conditions no longer hold)")
    assert _acme_mails(smtp_server) == 1


def test_tenant_disconnected_the_retry_is_cancelled(app, db, ledger, mailer, smtp_server) -> None:
    _deferred(db, ledger, mailer, smtp_server)
    disconnect_tenant(db, ledger.tenant, app.config, actor="user:1", revoke=False)
    db.commit()
    _assert_cancelled(db, "the tenant disconnected")


def test_platform_disconnected_the_retry_is_cancelled(db, ledger, mailer, smtp_server) -> None:
    _deferred(db, ledger, mailer, smtp_server)
    platform_disconnected(db, ledger.tenant, actor="platform:qbo")
    db.commit()
    _assert_cancelled(db, "the platform disconnected the tenant")


def test_reminders_switched_off_is_a_pause_the_retry_waits(db, ledger, mailer, smtp_server) -> None:
    _deferred(db, ledger, mailer, smtp_server)
    policy = db.scalar(select(DunningPolicy).where(DunningPolicy.tenant_id == ledger.tenant.id))
    set_enabled(db, ledger.tenant, policy, False, "user:1")
    db.commit()
    assert "retries_cancelled" not in run_dunning(db, ledger.tenant, ledger.platform, LATER, mailer)
    assert _row(db).status == "retry"
    set_enabled(db, ledger.tenant, policy, True, "user:1")
    db.commit()
    assert run_dunning(db, ledger.tenant, ledger.platform, LATER, mailer)["sent"] == 1  # resumed, same row
    assert (_row(db).status, _acme_mails(smtp_server)) == ("sent", 1)
