"""Closing reminder rows that wait to be sent but never will be: ``retry`` rows (the mail server deferred a
reminder) and ``awaiting_approval`` / ``approved`` rows (a stage that needs an admin's approval).

Such a row is only moved on when its exactly-once key is planned again (``dunning_send`` takes it over).
When the invoice got paid, voided, credited or deleted, was disputed or promised, the stage left the
customer's policy, or a later stage superseded it, the key is never planned again and the row would wait
for ever: listed on the approvals page, and sent if the key ever came back (a stage re-created with the
same key would go out on an approval given for the old one); when the tenant disconnects, a reconnect
months later would send a stale retry. Such rows become ``cancelled`` with the reason in ``error`` and an
audit record (``reminder.retry_cancelled`` / ``reminder.approval_cancelled``): the attempt history stays,
and (like ``skipped``) a cancelled stage counts as history, so it is not sent later either.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.domain.dunning import DunningPlan, DunningSettings, PolicySet
from addon.models import AuditLog, Customer, DunningAction, Invoice, Tenant
from addon.services.dunning_inputs import PENDING_APPROVAL, RETRY, split_key

CANCELLED = "cancelled"
# The rows that wait for their key to be planned again, and the run summary's name for those cancelled.
WAITING = (RETRY, *PENDING_APPROVAL)
SUMMARY_KEYS = {RETRY: "retries_cancelled", "awaiting_approval": "approvals_cancelled",
                "approved": "approvals_cancelled"}


def cancel_unplanned(session: Session, tenant: Tenant, plan: DunningPlan, policies: PolicySet,
                     settings: DunningSettings, actor: str, *, keys: Collection[str] | None = None) -> Counter[str]:
    """Cancel the tenant's waiting rows (``retry``, ``awaiting_approval``, ``approved``; only ``keys`` when
    given) that ``plan`` no longer contains, for a reason that will not pass by itself. Dunning switched off
    (for everyone, or the customer's policy) is a pause, not a reason: those rows wait. Flushes; returns how
    many were cancelled by summary key (``retries_cancelled``, ``approvals_cancelled``)."""
    query = (select(DunningAction, Invoice, Customer.remote_id)
             .outerjoin(Invoice, Invoice.id == DunningAction.invoice_id)
             .outerjoin(Customer, Customer.id == DunningAction.customer_id)
             .where(DunningAction.tenant_id == tenant.id, DunningAction.status.in_(WAITING)))
    if keys is not None:
        query = query.where(DunningAction.exactly_once_key.in_(list(keys)))
    planned = {key for action in plan.actions for key in action.exactly_once_keys}
    skipped = {skip.invoice_id: skip.reason for skip in plan.skipped}
    cancelled: Counter[str] = Counter()
    for row, invoice, customer_remote_id in session.execute(query).all():
        if row.exactly_once_key in planned:
            continue
        reason = _why_not_planned(row, invoice, customer_remote_id, skipped, policies, settings)
        if reason is not None:
            cancelled[SUMMARY_KEYS[row.status]] += 1
            cancel(session, tenant, row, reason, actor)
    session.flush()
    return cancelled


def cancel_all_retries(session: Session, tenant: Tenant, reason: str, actor: str) -> int:
    """Cancel every ``retry`` row of the tenant (it disconnected). Flushes; returns how many."""
    rows = session.scalars(select(DunningAction).where(DunningAction.tenant_id == tenant.id,
                                                       DunningAction.status == RETRY)).all()
    for row in rows:
        cancel(session, tenant, row, reason, actor)
    session.flush()
    return len(rows)


def cancel(session: Session, tenant: Tenant, row: DunningAction, reason: str, actor: str) -> None:
    """One row: ``cancelled``, the reason in front of a deferral's error, attempts kept, audited."""
    before = {"status": row.status, "attempts": row.attempts, "error": row.error,
              "retry_at": row.retry_at.isoformat() if row.retry_at else None}
    what = "reminder.retry_cancelled" if row.status == RETRY else "reminder.approval_cancelled"
    row.status, row.retry_at = CANCELLED, None
    row.error = f"cancelled: {reason}" + (f" (last deferral: {before['error']})" if before["error"] else "")
    session.add(AuditLog(tenant_id=tenant.id, actor=actor, action=what, object_type="invoice",
                         object_id=split_key(row.exactly_once_key)[0], before=before,
                         after={"status": CANCELLED, "stage": row.stage_key, "attempts": row.attempts},
                         reason=reason))


def _why_not_planned(row: DunningAction, invoice: Invoice | None, customer_remote_id: str | None,
                     skipped: dict[str, str], policies: PolicySet, settings: DunningSettings) -> str | None:
    invoice_remote_id, stage_key = split_key(row.exactly_once_key)
    if invoice is None:
        return "the invoice is no longer in the ledger"
    if invoice.status != "open":
        return f"the invoice is {invoice.status}"
    if invoice.amount_due <= 0:
        return "nothing is due on the invoice any more"
    if invoice_remote_id in skipped:
        return f"the invoice is not chased: {skipped[invoice_remote_id]}"
    if not settings.enabled:
        return None
    policy = policies.for_customer(customer_remote_id or "", None)
    if not policy.enabled:
        return None
    if stage_key not in {stage.key for stage in policy.stages}:
        return f"stage {stage_key!r} is no longer in the policy {policy.name!r}"
    return f"stage {stage_key!r} is no longer planned for this invoice (a later stage is due, or its conditions " \
           "no longer hold)"
