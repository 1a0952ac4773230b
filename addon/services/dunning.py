"""Dunning orchestration: plan from the mirror, re-read what is due from the ERP, then send exactly once.

``run_dunning`` is what the job (and the demo) calls; ``preview`` is the dry run behind
``cashline dunning preview`` and the settings page. Planning is pure (addon.domain.dunning); sending
and bookkeeping are in ``dunning_send``; the database <-> engine conversions in ``dunning_policies``
and ``dunning_inputs``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.domain.dunning import ReminderAction, action_as_json, plan_run, preview_day
from addon.domain.types import InvoiceStatus
from addon.models import AuditLog, Customer, DunningAction, Invoice, Tenant
from addon.services.dunning_inputs import PENDING_APPROVAL, Ledger, load_ledger, load_plan_ledger, split_key
from addon.services.dunning_policies import TenantPolicies, load_policies
from addon.services.dunning_retries import cancel_unplanned
from addon.services.dunning_send import (
    NOTE_FAILED,
    Claimed,
    DunningMailer,
    Execution,
    MailConfigurationError,
    add_suppressions,
    deliver,
    prepare,
    retry_notes,
)
from addon.services.sync import Mirror, SyncResult
from addon.services.tenant_lock import Lease, TenantBusy
from connectors.base import AccountingConnector
from connectors.errors import NotFoundError

logger = logging.getLogger(__name__)

__all__ = ["DunningMailer", "approve", "open_tasks", "pending_approvals", "preview", "reject", "run_dunning",
           "unsubscribe"]


def run_dunning(session: Session, tenant: Tenant, connector: AccountingConnector, now: datetime,
                mailer: DunningMailer, *, actor: str = "job:dunning",
                guard: Callable[[], None] | None = None, lock: Locker | None = None) -> dict[str, Any]:
    """One dunning run for a tenant at ``now``: send what is due now; returns a summary for logs/demo.

    Commits after every claim and every outcome (see dunning_send), so a killed run loses nothing and
    repeats nothing. ``lock`` (the job passes the tenant's sync lock, addon/services/tenant_lock.py) is held
    while the run decides: planning, and each action's re-read (which writes the mirror) and claim; not while
    it sends, so a slow mail server does not hold up the tenant's sync. A lock still busy after its wait at
    the start raises ``TenantBusy``; later it stops the run (``busy`` in the summary: the rest is planned
    again by the next run, nothing was claimed). ``guard`` (and the lock's lease) is checked before each
    action's decisions and raises to stop the run when the lock was lost.
    """
    locked = lock or _unlocked
    with locked() as lease:
        config = with_sms(load_policies(session, tenant), mailer)
        session.commit()  # the default policy, if it was just seeded
        ledger = load_plan_ledger(session, tenant, now)
        plan = plan_run(ledger.invoices, ledger.customers, config.policies, ledger.history, now, config.settings,
                        suppressed=ledger.suppressed)
        outcomes: Counter[str] = Counter()
        # Deferred sends and approvals whose reminder no longer applies (paid, disputed, stage removed, superseded).
        _check(lease, guard)
        outcomes.update(cancel_unplanned(session, tenant, plan, config.policies, config.settings, actor))
        session.commit()
    due = [a for a in plan.actions if a.send_at <= now]
    outcomes["later"] = len(plan.actions) - len(due)
    for planned in due:
        try:
            step = _decide_and_claim(session, tenant, connector, now, mailer, config, planned, actor, locked, guard,
                                     outcomes)
        except TenantBusy:
            outcomes["busy"] += 1  # a sync has the tenant: the next run plans the rest again
            break
        if step is None:
            continue
        ex, claimed = step
        try:
            outcomes[claimed if isinstance(claimed, str) else deliver(ex, claimed)] += 1
        except MailConfigurationError as exc:
            logger.warning("dunning run for tenant %s stopped: %s", tenant.id, exc)
            outcomes["mail_error"] += 1
            break
    outcomes["notes_retried"] = _retry_failed_notes(session, tenant, connector, now, mailer, config, actor)
    session.commit()
    summary = {"tenant_id": tenant.id, "planned": len(plan.actions), "skipped": len(plan.skipped),
               **{k: v for k, v in sorted(outcomes.items()) if v}}
    logger.info("dunning run for tenant %s: %s", tenant.id, summary)
    return summary


Locker = Callable[[], AbstractContextManager[Lease | None]]


def _unlocked() -> AbstractContextManager[Lease | None]:
    return nullcontext(None)


def _check(lease: Lease | None, guard: Callable[[], None] | None) -> None:
    """Raise before writing when the tenant's lock was lost (the holder stalled past its TTL)."""
    if lease is not None:
        lease.check()
    if guard is not None:
        guard()


def _decide_and_claim(session: Session, tenant: Tenant, connector: AccountingConnector, now: datetime,
                      mailer: DunningMailer, config: TenantPolicies, planned: ReminderAction, actor: str,
                      locked: Locker, guard: Callable[[], None] | None,
                      outcomes: Counter[str]) -> tuple[Execution, Claimed | str] | None:
    """Under the lock: re-read the action's invoices, plan the customer again and claim what is still due.
    None when nothing is due any more; else the execution and the claim (or the outcome, e.g. a wait)."""
    with locked() as lease:
        _check(lease, guard)
        action, stopped, customer_ledger = _fresh_action(session, tenant, connector, now, config, planned, actor)
        outcomes["stopped_now"] += stopped
        if action is None:
            return None
        ex = _execution(session, tenant, connector, now, mailer, config, action, actor, customer_ledger)
        return ex, prepare(ex, action)


def sms_configured(app_config: Any) -> bool:
    """SMS_PROVIDER names a provider (the run's ``DunningMailer.sms_enabled``, without building one)."""
    return str(app_config.get("SMS_PROVIDER") or "none") != "none"


def with_sms(config: TenantPolicies, mailer: DunningMailer) -> TenantPolicies:
    """The tenant's settings with SMS on when an SMS provider is configured (SMS_PROVIDER): only then may
    the planner choose SMS for an ``sms`` stage; otherwise it e-mails."""
    return dataclasses.replace(config, settings=dataclasses.replace(config.settings,
                                                                    sms_enabled=mailer.sms_enabled))


def _execution(session: Session, tenant: Tenant, connector: AccountingConnector, now: datetime,
               mailer: DunningMailer, config: TenantPolicies, action: ReminderAction | None,
               actor: str, ledger: Ledger | None = None) -> Execution:
    """``ledger``: the action's customer as just re-planned (nothing is written in between)."""
    ledger = ledger if ledger is not None else Ledger()
    policy = config.policies.for_customer(action.customer_id, None) if action else config.policies.default
    return Execution(session, tenant, connector, now, mailer, ledger, policy, config.templates, actor)


def _fresh_action(session: Session, tenant: Tenant, connector: AccountingConnector, now: datetime,
                  config: TenantPolicies, planned: ReminderAction,
                  actor: str) -> tuple[ReminderAction | None, int, Ledger]:
    """Re-read the action's invoices from the ERP (the system of record), update the mirror and plan
    this customer again: a payment made since the last sync stops the reminder right here. Returns the
    fresh action (if still due), how many invoices stopped, and the customer's ledger it was planned on."""
    mirror = Mirror(session, tenant)
    stopped = 0
    for invoice_id in planned.invoice_ids:
        try:
            fresh = connector.get_invoice(invoice_id)
        except NotFoundError:
            mirror.mark_deleted({"invoice": [invoice_id]})
            stopped += 1
            continue
        mirror.upsert_invoices([fresh], SyncResult())
        if not fresh.is_open:
            stopped += 1
            session.add(AuditLog(tenant_id=tenant.id, actor="job:dunning", action="reminder.stopped",
                                 object_type="invoice", object_id=invoice_id, before=None,
                                 after={"status": fresh.status.value, "amount_due": str(fresh.amount_due)},
                                 reason=f"re-read before sending: {_stop_text(fresh.status)}"))
    session.commit()
    # The last look before sending: the mirror as just re-read, and disputes/promises recorded meanwhile.
    ledger = load_ledger(session, tenant, now, [planned.customer_id], fresh=True)
    replanned = plan_run(ledger.invoices, ledger.customers, config.policies, ledger.history, now, config.settings,
                         suppressed=ledger.suppressed)
    # A deferred send or an approval among them whose invoice was just found paid (or the like) is closed now.
    if cancel_unplanned(session, tenant, replanned, config.policies, config.settings, actor,
                        keys=planned.exactly_once_keys):
        session.commit()
    action = next((a for a in replanned.actions if a.customer_id == planned.customer_id and a.send_at <= now), None)
    return action, stopped, ledger


def _stop_text(status: InvoiceStatus) -> str:
    return {"paid": "paid in the ERP", "voided": "voided in the ERP"}.get(status.value, f"now {status.value}")


def _retry_failed_notes(session: Session, tenant: Tenant, connector: AccountingConnector, now: datetime,
                        mailer: DunningMailer, config: TenantPolicies, actor: str) -> int:
    rows = session.scalars(select(DunningAction).where(
        DunningAction.tenant_id == tenant.id, DunningAction.status.in_(("sent", "task")),
        DunningAction.error.like(f"{NOTE_FAILED}%"))).all()
    if not rows:
        return 0
    return retry_notes(_execution(session, tenant, connector, now, mailer, config, None, actor), rows)


def preview(session: Session, tenant: Tenant, day: date, *, sms_enabled: bool = False) -> list[dict[str, Any]]:
    """What the run on ``day`` would do (actions as JSON, plus who they are for); nothing is sent.
    ``sms_enabled``: an SMS provider is configured (``sms_configured(config)``), as the run will see it."""
    config = load_policies(session, tenant)
    config = dataclasses.replace(config, settings=dataclasses.replace(config.settings, sms_enabled=sms_enabled))
    # Reminders up to the end of that day count against the frequency cap (the engine never reads a clock).
    now = datetime.combine(day, time.max, tzinfo=UTC)
    ledger = load_plan_ledger(session, tenant, now)
    actions = preview_day(ledger.invoices, ledger.customers, config.policies, ledger.history, day, config.settings,
                          suppressed=ledger.suppressed)
    out = []
    for action in actions:
        item = action_as_json(action)
        item["customer"] = ledger.customer_names.get(action.customer_id, action.customer_id)
        out.append(item)
    return out


# --- approvals ------------------------------------------------------------------------------------------

def pending_approvals(session: Session, tenant: Tenant) -> list[dict[str, Any]]:
    """Reminders waiting for an admin, one entry per customer."""
    rows = session.execute(select(DunningAction, Customer.name, Invoice.number, Invoice.amount_due, Invoice.currency)
                           .outerjoin(Customer, Customer.id == DunningAction.customer_id)
                           .outerjoin(Invoice, Invoice.id == DunningAction.invoice_id)
                           .where(DunningAction.tenant_id == tenant.id,
                                  DunningAction.status.in_(PENDING_APPROVAL))
                           .order_by(DunningAction.customer_id, DunningAction.id)).all()
    groups: dict[int | None, dict[str, Any]] = {}
    for row, name, number, amount_due, currency in rows:
        group = groups.setdefault(row.customer_id, {"customer_id": row.customer_id, "customer": name or "?",
                                                    "status": row.status, "lines": []})
        if row.status == "awaiting_approval":
            group["status"] = "awaiting_approval"
        group["lines"].append({"key": row.exactly_once_key, "number": number, "stage": row.stage_key,
                               "tone": row.tone, "amount_due": str(amount_due) if amount_due is not None else None,
                               "currency": currency, "reason": row.reason})
    return list(groups.values())


def approve(session: Session, tenant: Tenant, customer_id: int, actor: str) -> int:
    """Approve every waiting reminder of one customer; the next run sends them. Returns how many."""
    return _decide(session, tenant, customer_id, actor, "approved")


def reject(session: Session, tenant: Tenant, customer_id: int, actor: str) -> int:
    """Decline the waiting reminders of one customer: those stages are never sent."""
    return _decide(session, tenant, customer_id, actor, "skipped")


def _decide(session: Session, tenant: Tenant, customer_id: int, actor: str, status: str) -> int:
    rows = session.scalars(select(DunningAction).where(
        DunningAction.tenant_id == tenant.id, DunningAction.customer_id == customer_id,
        DunningAction.status == "awaiting_approval")).all()
    for row in rows:
        row.status = status
        session.add(AuditLog(tenant_id=tenant.id, actor=actor, action=f"reminder.{status}",
                             object_type="invoice", object_id=split_key(row.exactly_once_key)[0],
                             before={"status": "awaiting_approval"}, after={"status": status,
                                                                           "stage": row.stage_key},
                             reason="decided by an admin on the approvals list"))
    session.flush()
    return len(rows)


def open_tasks(session: Session, tenant: Tenant, since: datetime) -> list[dict[str, Any]]:
    """Reminders that became worklist tasks (call or write) since ``since``, for still-open invoices: planned
    as tasks, or emails the mail server refused for good (``failed``: someone has to call or write instead)."""
    rows = session.execute(select(DunningAction, Customer.name, Invoice.number, Invoice.amount_due, Invoice.currency)
                           .join(Invoice, Invoice.id == DunningAction.invoice_id)
                           .outerjoin(Customer, Customer.id == DunningAction.customer_id)
                           .where(DunningAction.tenant_id == tenant.id,
                                  DunningAction.status.in_(("task", "failed")),
                                  DunningAction.send_at >= since, Invoice.status == "open")
                           .order_by(DunningAction.send_at.desc())).all()
    return [{"invoice_id": row.invoice_id, "customer": name or "?", "number": number, "stage": row.stage_key,
             "tone": row.tone, "amount_due": str(amount_due), "currency": currency,
             "since": row.send_at.isoformat() if row.send_at else None,
             "why": _task_why(row)} for row, name, number, amount_due, currency in rows]


def _task_why(row: DunningAction) -> str:
    if row.status == "failed":
        if row.channel == "sms":
            return f"SMS failed: {row.error or 'refused by the SMS provider'}"
        return f"email failed: {row.error or 'refused by the mail server'}"
    return (row.reason or "").split(" | ")[-1]


# --- unsubscribe ----------------------------------------------------------------------------------------

def unsubscribe(session: Session, tenant: Tenant, customer_remote_id: str) -> int:
    """Put every address of the customer (contact record and invoice billing contacts) on the suppression
    list; later reminders become worklist tasks. Returns how many addresses were added."""
    customer = session.scalar(select(Customer).where(Customer.tenant_id == tenant.id,
                                                     Customer.remote_id == customer_remote_id))
    if customer is None:
        return 0
    billing = session.scalars(select(Invoice.billing_email).where(Invoice.customer_id == customer.id,
                                                                  Invoice.billing_email.is_not(None)))
    addresses = {str(a).strip().lower() for a in [*(customer.emails or []), *billing] if a and "@" in str(a)}
    added = add_suppressions(session, tenant.id, "email", addresses, "unsubscribed")
    session.add(AuditLog(tenant_id=tenant.id, actor=f"customer:{customer_remote_id}", action="reminder.unsubscribed",
                         object_type="customer", object_id=customer_remote_id, before=None,
                         after={"suppressed": added}, reason="one-click unsubscribe link"))
    session.flush()
    return len(added)
