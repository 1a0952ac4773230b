"""Reminders waiting for an admin (``awaiting_approval``) or approved but not yet sent (``approved``) whose
stage left the policy, was superseded by a later stage, or whose invoice stopped being chased are cancelled
by the next run with the reason and an audit record, never left on the approvals list for ever, and an
approval given for a stage that no longer exists never sends anything. Real database, real SMTP server,
the in-memory platform."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from addon.domain.types import Allocation, NewPayment
from addon.models import AuditLog, Customer, DunningAction
from addon.services.dunning import approve, pending_approvals, run_dunning
from addon.services.dunning_policies import ensure_default_policy, primary_stages
from addon.services.dunning_settings import FIELDS, StageInput, _copied_fields, delete_stage, save_stage
from addon.services.sync import sync_incremental
from tests.addon.dunning.conftest import DUE, at

FINAL_DAY = at(DUE + timedelta(days=45))  # Monday 14 Dec: the final notice (needs approval) for I1 and I2


def _row(db, key: str = "I1:final") -> DunningAction:  # type: ignore[no-untyped-def]
    db.expire_all()
    return db.scalar(select(DunningAction).where(DunningAction.exactly_once_key == key))


def _awaiting(db, ledger, mailer) -> None:  # type: ignore[no-untyped-def]
    assert run_dunning(db, ledger.tenant, ledger.platform, FINAL_DAY, mailer)["awaiting_approval"] == 2
    assert {_row(db).status, _row(db, "I2:final").status} == {"awaiting_approval"}


def _delete(db, ledger, key: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    policy = ensure_default_policy(db, ledger.tenant)
    stage = next(s for s in primary_stages(policy) if s.key == key)
    fields = _copied_fields(stage)
    assert delete_stage(db, ledger.tenant, policy, stage, "user:1") is None
    db.commit()
    return fields


def _assert_cancelled(db, key: str, before: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    row = _row(db, key)
    assert (row.status, row.error) == ("cancelled", f"cancelled: {reason}")
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "reminder.approval_cancelled",
                                              AuditLog.object_id == key.split(":")[0])).one()
    assert (audit.reason, audit.before["status"], audit.after["status"]) == (reason, before, "cancelled")


def test_stage_deleted_the_waiting_approvals_are_cancelled(db, ledger, mailer, smtp_server) -> None:
    _awaiting(db, ledger, mailer)
    _delete(db, ledger, "final")
    summary = run_dunning(db, ledger.tenant, ledger.platform, FINAL_DAY + timedelta(hours=1), mailer)
    assert summary["approvals_cancelled"] == 2
    for key in ("I1:final", "I2:final"):
        _assert_cancelled(db, key, "awaiting_approval", "stage 'final' is no longer in the policy 'Standard'")
    assert pending_approvals(db, ledger.tenant) == []
    assert "approvals_cancelled" not in run_dunning(db, ledger.tenant, ledger.platform,
                                                    FINAL_DAY + timedelta(days=1), mailer)


def test_approved_then_stage_deleted_nothing_is_sent_even_when_the_key_comes_back(db, ledger, mailer,
                                                                                 smtp_server) -> None:
    _awaiting(db, ledger, mailer)
    acme = db.scalar(select(Customer).where(Customer.remote_id == "C1"))
    assert approve(db, ledger.tenant, acme.id, "user:1") == 1
    db.commit()
    fields = _delete(db, ledger, "final")
    run_dunning(db, ledger.tenant, ledger.platform, FINAL_DAY + timedelta(hours=1), mailer)
    _assert_cancelled(db, "I1:final", "approved", "stage 'final' is no longer in the policy 'Standard'")
    # An admin re-creates a stage with the same key: the old approval does not send it (a cancelled stage
    # being history, the stage stays dropped for these invoices).
    policy = ensure_default_policy(db, ledger.tenant)
    assert save_stage(db, ledger.tenant, policy, None, StageInput({n: fields[n] for n in FIELDS}), "user:1")
    db.commit()
    run_dunning(db, ledger.tenant, ledger.platform, FINAL_DAY + timedelta(days=1), mailer)
    assert _row(db).status == "cancelled"
    # (Without the final notice, overdue_30 had become the latest stage due and went out meanwhile.)
    sent = db.scalars(select(DunningAction.exactly_once_key).where(DunningAction.status == "sent")).all()
    assert sorted(sent) == ["I1:overdue_30", "I2:overdue_30"]


def test_superseded_by_a_later_stage_the_waiting_approval_is_cancelled(db, ledger, mailer, smtp_server) -> None:
    policy = ensure_default_policy(db, ledger.tenant)
    next(s for s in primary_stages(policy) if s.key == "overdue_30").needs_approval = True
    db.commit()
    day_30 = at(date(2026, 11, 30))  # Monday after overdue_30 fell due (Sunday 29 Nov)
    assert run_dunning(db, ledger.tenant, ledger.platform, day_30, mailer)["awaiting_approval"] == 2
    # Nobody decided before the final notice fell due: overdue_30 will never be planned again.
    summary = run_dunning(db, ledger.tenant, ledger.platform, FINAL_DAY, mailer)
    assert summary["approvals_cancelled"] == 2
    _assert_cancelled(db, "I1:overdue_30", "awaiting_approval",
                      "stage 'overdue_30' is no longer planned for this invoice (a later stage is due, or its "
                      "conditions no longer hold)")
    assert {line["stage"] for group in pending_approvals(db, ledger.tenant) for line in group["lines"]} == {"final"}


def test_invoice_paid_the_waiting_approval_is_cancelled_with_the_reason(db, ledger, mailer, smtp_server) -> None:
    _awaiting(db, ledger, mailer)
    ledger.platform.create_payment(NewPayment(contact_id="C1", date=FINAL_DAY.date(), currency="GBP",
                                              allocations=(Allocation("I1", Decimal("100.00")),)),
                                   idempotency_key="pay-i1")
    sync_incremental(db, ledger.tenant, ledger.platform, now=FINAL_DAY)
    db.commit()
    summary = run_dunning(db, ledger.tenant, ledger.platform, FINAL_DAY + timedelta(hours=1), mailer)
    assert summary["approvals_cancelled"] == 1
    _assert_cancelled(db, "I1:final", "awaiting_approval", "the invoice is paid")
    assert _row(db, "I2:final").status == "awaiting_approval"  # still chased: still waiting


def test_approval_switched_off_the_waiting_reminders_go_out_on_the_next_run(db, ledger, mailer,
                                                                             smtp_server) -> None:
    """An admin who stops requiring approval for a stage has approved what waits for it: the next run sends
    those reminders (audited as no longer needing approval), instead of reporting them as claimed by
    another run for ever."""
    _awaiting(db, ledger, mailer)
    policy = ensure_default_policy(db, ledger.tenant)
    stage = next(s for s in primary_stages(policy) if s.key == "final")
    fields = {n: _copied_fields(stage)[n] for n in FIELDS}
    assert save_stage(db, ledger.tenant, policy, stage, StageInput({**fields, "needs_approval": False}), "user:1")
    db.commit()
    summary = run_dunning(db, ledger.tenant, ledger.platform, FINAL_DAY + timedelta(hours=1), mailer)
    assert "claimed_elsewhere" not in summary
    assert {_row(db).status, _row(db, "I2:final").status} == {"sent"}
    assert len(smtp_server.sink.arrived) == 2
    waived = db.scalars(select(AuditLog).where(AuditLog.action == "reminder.approval_no_longer_needed")).all()
    assert sorted(a.object_id for a in waived) == ["I1", "I2"]
    assert pending_approvals(db, ledger.tenant) == []
