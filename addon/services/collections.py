"""What collectors record against an open invoice: a promise to pay, and a dispute.

Both are Cashline's own state (the ERP has no place for them), dated so the risk model can use them
point-in-time, and audited. Dunning stops for a disputed invoice and until a promised date has passed;
the worklist raises broken promises; scoring reads ``promise_recorded_on``/``promised_on`` and
``disputed_on``/``dispute_resolved_on``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from addon.extensions import get_for_tenant
from addon.models import AuditLog, Invoice, Tenant

MAX_PROMISE_AHEAD = timedelta(days=366)  # a promise further ahead is a payment plan, not a promise to pay


class CollectionsError(ValueError):
    """A request that cannot be recorded (unknown invoice, not open, a promise in the past)."""


class InvoiceNotFound(CollectionsError):
    pass


def invoice_state(inv: Invoice) -> dict[str, Any]:
    """The collections state of an invoice, as the API returns it."""
    return {"invoice_id": inv.id, "number": inv.number, "disputed": bool(inv.disputed),
            "disputed_on": inv.disputed_on.isoformat() if inv.disputed_on else None,
            "dispute_resolved_on": inv.dispute_resolved_on.isoformat() if inv.dispute_resolved_on else None,
            "promised_on": inv.promised_on.isoformat() if inv.promised_on else None,
            "promise_recorded_on": inv.promise_recorded_on.isoformat() if inv.promise_recorded_on else None}


def record_promise(session: Session, tenant: Tenant, invoice_id: int, promised_on: date, today: date, actor: str,
                   note: str | None = None) -> Invoice:
    """The customer promised to pay ``invoice_id`` by ``promised_on`` (today or later); a new promise
    replaces the previous one. Recording the same promise again changes nothing."""
    inv = _open_invoice(session, tenant, invoice_id)
    if promised_on < today:
        raise CollectionsError(f"a promise to pay is for today or a later day, not {promised_on.isoformat()}")
    if promised_on > today + MAX_PROMISE_AHEAD:
        # Dunning stops until the promised day: a mistyped year (2207) would stop chasing for good.
        raise CollectionsError(f"a promise to pay is for the next {MAX_PROMISE_AHEAD.days} days, not "
                               f"{promised_on.isoformat()} (is the year right?)")
    if inv.promised_on == promised_on and inv.promise_recorded_on is not None:
        return inv
    before = invoice_state(inv)
    inv.promised_on, inv.promise_recorded_on = promised_on, today
    _audit(session, tenant, inv, actor, "invoice.promise_recorded", before, note)
    return inv


def clear_promise(session: Session, tenant: Tenant, invoice_id: int, actor: str, note: str | None = None) -> Invoice:
    """Withdraw the invoice's promise to pay (dunning resumes on its schedule)."""
    inv = _invoice(session, tenant, invoice_id)
    if inv.promised_on is None:
        return inv
    before = invoice_state(inv)
    inv.promised_on, inv.promise_recorded_on = None, None
    _audit(session, tenant, inv, actor, "invoice.promise_cleared", before, note)
    return inv


def record_dispute(session: Session, tenant: Tenant, invoice_id: int, today: date, actor: str,
                   reason: str | None = None) -> Invoice:
    """The customer disputes the invoice: dunning stops until the dispute is resolved."""
    inv = _open_invoice(session, tenant, invoice_id)
    if inv.disputed:
        return inv
    before = invoice_state(inv)
    inv.disputed, inv.disputed_on, inv.dispute_resolved_on = True, today, None
    _audit(session, tenant, inv, actor, "invoice.dispute_recorded", before, reason)
    return inv


def resolve_dispute(session: Session, tenant: Tenant, invoice_id: int, today: date, actor: str,
                    note: str | None = None) -> Invoice:
    """The dispute is settled today; dunning resumes. ``disputed_on`` stays: the invoice *was* disputed,
    which the customer's dispute rate in the risk model keeps counting; from ``dispute_resolved_on`` on it
    is no longer an open dispute."""
    inv = _invoice(session, tenant, invoice_id)
    if not inv.disputed:
        return inv
    before = invoice_state(inv)
    inv.disputed, inv.dispute_resolved_on = False, today
    _audit(session, tenant, inv, actor, "invoice.dispute_resolved", before, note)
    return inv


def _invoice(session: Session, tenant: Tenant, invoice_id: int) -> Invoice:
    inv = get_for_tenant(session, Invoice, invoice_id, tenant.id)
    if inv is None:
        raise InvoiceNotFound(f"no invoice {invoice_id} for this organisation")
    return inv


def _open_invoice(session: Session, tenant: Tenant, invoice_id: int) -> Invoice:
    inv = _invoice(session, tenant, invoice_id)
    if inv.status != "open" or inv.amount_due <= 0:
        raise CollectionsError(f"invoice {inv.number or inv.id} is not open ({inv.status}, {inv.amount_due} due)")
    return inv


def _audit(session: Session, tenant: Tenant, inv: Invoice, actor: str, action: str, before: dict[str, Any],
           reason: str | None) -> None:
    session.add(AuditLog(tenant_id=tenant.id, actor=actor, action=action, object_type="invoice",
                         object_id=str(inv.id), before=before, after=invoice_state(inv), reason=reason))
