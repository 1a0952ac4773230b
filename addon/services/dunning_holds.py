"""Holding a customer's chasing: a credit controller pauses every automatic reminder for one customer (payment
plan agreed, key account, in legal hands) with a reason and optionally a last day. The planner skips the
customer's invoices while the hold applies (``ChaseHold.applies`` on the run's date); an expired hold lifts
itself, no job needed. Set and lift are audited (``customer.hold_set``, ``customer.hold_lifted``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from addon.domain.dunning import ChaseHold
from addon.extensions import get_for_tenant
from addon.models import AuditLog, Customer, DunningHold, Tenant, User

USER_ACTOR = "user:"  # how the web layer names a signed-in user as the audit actor
MAX_REASON = 200  # the column's length: a short note, the detail belongs in the ERP or the CRM


class HoldError(ValueError):
    """A hold that cannot be set (no reason, a reason too long, an end date in the past, unknown customer)."""


class CustomerNotFound(HoldError):
    pass


def hold_state(hold: DunningHold | None, today: date, people: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """A hold as the API and the audit log show it; None when there is none or it has expired. With ``people``
    (``actor_names``), ``set_by_name`` says who set it the way a person reads it; the audit log keeps the actor."""
    if hold is None or not to_chase_hold(hold).applies(today):
        return None
    state = {"reason": hold.reason, "until": hold.until.isoformat() if hold.until else None,
             "set_by": hold.set_by, "set_at": hold.set_at.isoformat(), "note": to_chase_hold(hold).note}
    if people is not None:
        state["set_by_name"] = people.get(hold.set_by) or actor_label(hold.set_by)
    return state


def customer_state(session: Session, customer: Customer, hold: DunningHold | None, today: date,
                   people: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A customer and its hold (null when none applies), as the API returns it."""
    if people is None:
        people = actor_names(session, [hold.set_by] if hold is not None else [])
    return {"customer_id": customer.id, "remote_id": customer.remote_id, "name": customer.name,
            "hold": hold_state(hold, today, people)}


def actor_names(session: Session, actors: Iterable[str]) -> dict[str, str]:
    """Audit actors (``user:12``) -> the user as a person reads it: "Ann Smith (ann@example.com)", the name or
    the e-mail alone when the platform gave only one. Actors that are not users are left out."""
    ids = {int(a.removeprefix(USER_ACTOR)) for a in actors
           if a.startswith(USER_ACTOR) and a.removeprefix(USER_ACTOR).isdecimal()}
    if not ids:
        return {}
    users = session.scalars(select(User).where(User.id.in_(ids)))
    return {f"{USER_ACTOR}{u.id}": label for u in users if (label := user_label(u.name, u.email))}


def user_label(name: str | None, email: str | None) -> str:
    """How a user is written on a page: the name with the e-mail in brackets, or whichever the platform gave."""
    name, email = (name or "").strip(), (email or "").strip()
    if name and email:
        return f"{name} ({email})"
    return name or email


def actor_label(actor: str) -> str:
    """An actor with no user behind it (deleted, or not a person): "user 12", "system"."""
    return actor.replace(":", " ", 1) if actor.startswith(USER_ACTOR) else actor


def to_chase_hold(hold: DunningHold) -> ChaseHold:
    return ChaseHold(hold.reason, hold.until)


def set_hold(session: Session, tenant: Tenant, customer_id: int, reason: str | None, until: date | None,
             today: date, now: datetime, actor: str) -> DunningHold:
    """Hold the customer's chasing until ``until`` (its last day, today or later; None = until lifted). A new
    hold replaces the customer's current (or expired) one; setting the same hold again changes nothing."""
    customer = _customer(session, tenant, customer_id)
    text = (reason or "").strip()
    if not text:
        raise HoldError("a hold needs a reason (e.g. payment plan agreed, in legal hands)")
    if len(text) > MAX_REASON:
        raise HoldError(f"the reason is {len(text)} characters; at most {MAX_REASON}")
    if until is not None and until < today:
        raise HoldError(f"a hold ends today or later, not {until.isoformat()}")
    hold = _hold(session, tenant, customer.id)
    before = hold_state(hold, today)
    if hold is not None and before is not None and (hold.reason, hold.until) == (text, until):
        return hold
    if hold is None:
        hold = DunningHold(tenant_id=tenant.id, customer_id=customer.id)
        session.add(hold)
    hold.reason, hold.until, hold.set_by, hold.set_at = text, until, actor, now
    session.flush()
    _audit(session, tenant, customer, actor, "customer.hold_set", before, hold_state(hold, today), text)
    return hold


def lift_hold(session: Session, tenant: Tenant, customer_id: int, today: date, actor: str,
              note: str | None = None) -> Customer:
    """Lift the customer's hold: chasing resumes at the next run. Nothing to lift changes nothing."""
    customer = _customer(session, tenant, customer_id)
    hold = _hold(session, tenant, customer.id)
    if hold is None:
        return customer
    before = hold_state(hold, today)
    session.delete(hold)
    session.flush()
    if before is not None:  # an expired hold had already stopped applying: tidying it away is no change
        _audit(session, tenant, customer, actor, "customer.hold_lifted", before, None, note)
    return customer


def customer_hold(session: Session, tenant: Tenant, customer_id: int) -> tuple[Customer, DunningHold | None]:
    customer = _customer(session, tenant, customer_id)
    return customer, _hold(session, tenant, customer.id)


def holds_for(session: Session, tenant: Tenant, customer_ids: Collection[int]) -> dict[int, DunningHold]:
    """The customers' holds (expired ones too: whether one applies is decided on the run's date)."""
    if not customer_ids:
        return {}
    # populate_existing: the last look before sending must see a hold changed since the run's first read.
    rows = session.scalars(select(DunningHold).where(DunningHold.tenant_id == tenant.id,
                                                     DunningHold.customer_id.in_(list(customer_ids)))
                           .execution_options(populate_existing=True))
    return {h.customer_id: h for h in rows}


def holds_in_force(session: Session, tenant: Tenant, today: date, limit: int, offset: int
                   ) -> tuple[list[dict[str, Any]], int]:
    """The customers on hold today (by name, then id, so pages neither repeat nor skip), and how many."""
    where = (DunningHold.tenant_id == tenant.id, or_(DunningHold.until.is_(None), DunningHold.until >= today))
    total = session.scalar(select(func.count()).select_from(DunningHold).where(*where)) or 0
    rows = session.execute(select(Customer, DunningHold).join(DunningHold, DunningHold.customer_id == Customer.id)
                           .where(*where).order_by(Customer.name, Customer.id).offset(offset).limit(limit)).all()
    people = actor_names(session, [hold.set_by for _, hold in rows])
    return [customer_state(session, customer, hold, today, people) for customer, hold in rows], total


def _customer(session: Session, tenant: Tenant, customer_id: int) -> Customer:
    customer = get_for_tenant(session, Customer, customer_id, tenant.id)
    if customer is None:
        raise CustomerNotFound(f"no customer {customer_id} for this organisation")
    return customer


def _hold(session: Session, tenant: Tenant, customer_id: int) -> DunningHold | None:
    return session.scalar(select(DunningHold).where(DunningHold.tenant_id == tenant.id,
                                                    DunningHold.customer_id == customer_id))


def _audit(session: Session, tenant: Tenant, customer: Customer, actor: str, action: str,
           before: dict[str, Any] | None, after: dict[str, Any] | None, reason: str | None) -> None:
    session.add(AuditLog(tenant_id=tenant.id, actor=actor, action=action, object_type="customer",
                         object_id=str(customer.id), before=before, after=after, reason=reason))
