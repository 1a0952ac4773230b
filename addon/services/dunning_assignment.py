"""Which customers a dunning policy covers: customers typed on the settings page (a name in any case, or
the platform's id) resolved against the mirror, and assigned to exactly one policy. Flushes, never commits."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from addon.models import Customer, DunningPolicy, Tenant
from addon.services.dunning_settings import audit_change


def customer_names(session: Session, tenant: Tenant, remote_ids: Iterable[str],
                   active_only: bool = False) -> dict[str, str]:
    """Name by remote id of these customers (the ones on a policy), not of all the tenant's thousands;
    ``active_only`` leaves archived customers out."""
    wanted = sorted(set(remote_ids))
    if not wanted:
        return {}
    query = select(Customer.remote_id, Customer.name).where(Customer.tenant_id == tenant.id,
                                                            Customer.remote_id.in_(wanted))
    if active_only:
        query = query.where(Customer.archived.is_(False))
    return {remote_id: name for remote_id, name in session.execute(query)}


def resolve_customers(session: Session, tenant: Tenant, typed: str) -> tuple[list[str], list[str]]:
    """The remote ids of the customers typed one a line (a name in any case, or the platform's id), and
    the problems (a name nobody has, a name two customers share); blank lines are skipped."""
    lines = list(dict.fromkeys(line.strip() for line in typed.splitlines() if line.strip()))
    if not lines:
        return [], []
    lowered = {line.lower() for line in lines}
    rows = session.execute(select(Customer.remote_id, Customer.name).where(
        Customer.tenant_id == tenant.id, Customer.archived.is_(False),
        or_(Customer.remote_id.in_(lines), func.lower(Customer.name).in_(lowered)))).all()
    by_id = {remote_id for remote_id, _ in rows}
    by_name: dict[str, list[str]] = {}
    for remote_id, name in rows:
        by_name.setdefault(name.lower(), []).append(remote_id)
    found, problems = [], []
    for line in lines:
        if line in by_id:
            found.append(line)
        elif len(by_name.get(line.lower(), [])) == 1:
            found.append(by_name[line.lower()][0])
        elif line.lower() in by_name:
            ids = ", ".join(sorted(by_name[line.lower()]))
            problems.append(f"{len(by_name[line.lower()])} customers are called {line!r}: type the id of the one "
                            f"meant ({ids})")
        else:
            problems.append(f"no customer called {line!r}")
    return found, problems


def assign_customers(session: Session, tenant: Tenant, policy: DunningPolicy, remote_ids: list[str],
                     actor: str) -> dict[str, str]:
    """Assign exactly these customers to a non-default policy (taking them off any other policy, so each
    customer has one); returns errors by field (empty when saved)."""
    if policy.is_default:
        return {"customers": "the default policy covers every customer not assigned elsewhere"}
    known = set(customer_names(session, tenant, remote_ids, active_only=True))
    unknown = sorted(set(remote_ids) - known)
    if unknown:
        return {"customers": f"unknown customer(s): {', '.join(unknown)}"}
    chosen = sorted(set(remote_ids))
    others = session.scalars(select(DunningPolicy).where(DunningPolicy.tenant_id == tenant.id,
                                                         DunningPolicy.id != policy.id)).all()
    for other in others:
        assigned = list((other.segment or {}).get("customers", []))
        if set(assigned) & set(chosen):
            other.segment = {**(other.segment or {}), "customers": [c for c in assigned if c not in chosen]}
    before = dict(policy.segment or {})
    policy.segment = {**before, "customers": chosen}
    audit_change(session, tenant, actor, "dunning.policy_assigned", str(policy.id), before, policy.segment,
           "dunning_policy")
    session.flush()
    return {}
