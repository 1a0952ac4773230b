"""Time the dunning settings page of a big tenant, and the parts of its dry run, against the ORM loader.

Builds a ``--invoices`` open-invoice / ``--customers``-customer tenant in a few bulk INSERTs
(tests/addon/helpers.insert_big_ledger; some risk bands, paid history and reminders sent on top) in a
temporary SQLite file (or ``--database-url``, whose bench tenant is deleted again at the end), then times,
best of ``--repeat``, each from an empty session as a request starts:

- loading the ledger: ``load_ledger`` (an ORM object per invoice and customer; the send path keeps it for
  one customer at a time) against ``load_plan_ledger`` (plain rows of the columns the planner reads),
  and checks both give the same engine inputs;
- planning the next day (``preview_day``, pure);
- the dry run as the page asks for it (``dunning.preview``: load + plan + customer names);
- ``GET /tenants/<id>/dunning`` (the dry run, approvals, tasks and rendering the template), with each loader.

Prints the figures and the before/after ratios. Figures are printed, never asserted.

    .venv/bin/python bench/dunning_page.py
    .venv/bin/python bench/dunning_page.py --invoices 50000 --customers 5000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import time_machine
from sqlalchemy import delete, select

from addon.domain.dunning import preview_day
from addon.models import Customer, DunningAction, Invoice, Membership, RiskScore, Role, Tenant, User
from addon.services import dunning
from addon.services.dunning_inputs import Ledger, load_ledger, load_plan_ledger
from addon.services.dunning_policies import ensure_default_policy, load_policies
from bench.support import bench_app, best_of, drop_tenant
from tests.addon.helpers import insert_big_ledger

DUE = date(2026, 11, 1)  # invoices fall due from here to 59 days on: the run plans overdue and upcoming stages
TODAY = date(2026, 11, 20)
TOMORROW = TODAY + timedelta(days=1)
END_OF_TOMORROW = datetime.combine(TOMORROW, clock.max, tzinfo=UTC)


def build(db: Any, invoices: int, customers: int, seed: int) -> tuple[int, int]:
    """The big tenant, an admin signed up on it; returns (tenant id, user id)."""
    rng = random.Random(seed)
    tenant = Tenant(platform="fake", remote_id=f"bench-{os.getpid()}", name="Bench Big Ltd", base_currency="GBP",
                    country="GB")
    db.add(tenant)
    db.flush()
    ids = insert_big_ledger(db, tenant, customers=customers, invoices=invoices, due=DUE)
    db.execute(Customer.__table__.update().where(Customer.tenant_id == tenant.id).values(
        emails=["ap@example.test"], timezone="Europe/London"))
    rows = db.execute(select(Invoice.id, Invoice.remote_id, Invoice.customer_id, Invoice.due_date)
                      .where(Invoice.tenant_id == tenant.id)).all()
    db.execute(RiskScore.__table__.insert(), [
        {"tenant_id": tenant.id, "invoice_id": i, "model_version": "bench", "p_late": Decimal("0.5"),
         "band": rng.choice(("low", "medium", "high")), "reasons": []} for i, *_ in rows if rng.random() < 0.8])
    sent = datetime.combine(TODAY, clock(9), tzinfo=UTC) - timedelta(days=5)
    db.execute(DunningAction.__table__.insert(), [
        {"tenant_id": tenant.id, "exactly_once_key": f"{remote}:due_today", "invoice_id": i, "customer_id": c,
         "stage_key": "due_today", "tone": "friendly", "channel": "email", "status": "sent", "send_at": sent,
         "sent_at": sent, "attempts": 1} for i, remote, c, due in rows if due < TODAY and rng.random() < 0.5])
    db.execute(Invoice.__table__.insert(), [  # paid history: who counts as reliable
        {"tenant_id": tenant.id, "remote_id": f"p{n}", "number": f"PAID-{n:05d}", "customer_id": ids[n % customers],
         "currency": "GBP", "issue_date": DUE - timedelta(days=90), "due_date": DUE - timedelta(days=60),
         "total": Decimal("50.00"), "amount_due": Decimal("0"), "status": "paid",
         "fully_paid_on": DUE - timedelta(days=rng.choice((62, 61, 60, 55)))} for n in range(customers * 3)])
    ensure_default_policy(db, tenant)
    user = User(issuer="https://issuer.example", subject=f"bench-{os.getpid()}", email="admin@example.test",
                name="Admin")
    db.add(user)
    db.flush()
    db.add(Membership(tenant_id=tenant.id, user_id=user.id, role=Role.ADMIN))
    db.commit()
    return tenant.id, user.id


def same_inputs(a: Ledger, b: Ledger) -> bool:
    def key(ledger: Ledger) -> tuple[Any, ...]:
        return (sorted(ledger.invoices, key=lambda i: i.invoice_id),
                sorted(ledger.customers, key=lambda c: c.customer_id), ledger.history, ledger.suppressed,
                ledger.customer_names)
    return key(a) == key(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=12_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs each")
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()
    with bench_app(args.database_url) as (app, url):
        tenant_id = 0
        try:
            with app.app_context():
                db = app.extensions["cashline_db"].session
                started = time.perf_counter()
                tenant_id, user_id = build(db, args.invoices, args.customers, args.seed)
                print(f"{args.invoices:,} open invoices, {args.customers:,} customers on {url.split(':')[0]} "
                      f"(built in {time.perf_counter() - started:.1f} s); best of {args.repeat}")
                measure(app, db, tenant_id, user_id, args.repeat)
        finally:
            if args.database_url:  # a shared database: take the bench tenant's rows out again
                drop_tenant(app, tenant_id, delete(User).where(User.subject == f"bench-{os.getpid()}"))


def measure(app: Any, db: Any, tenant_id: int, user_id: int, repeat: int) -> None:
    def timed(run: Callable[[], Any]) -> tuple[float, Any]:  # every request starts with an empty session
        return best_of(repeat, run, before=db.expunge_all)

    tenant = db.get(Tenant, tenant_id)
    config = load_policies(db, tenant)
    db.commit()
    old_load, old = timed(lambda: load_ledger(db, db.get(Tenant, tenant_id), END_OF_TOMORROW))
    new_load, new = timed(lambda: load_plan_ledger(db, db.get(Tenant, tenant_id), END_OF_TOMORROW))
    plan, actions = timed(lambda: preview_day(new.invoices, new.customers, config.policies,
                                                            new.history, TOMORROW, config.settings,
                                                            suppressed=new.suppressed))
    print(f"load ledger, ORM objects : {old_load * 1000:8.1f} ms")
    print(f"load ledger, plain rows  : {new_load * 1000:8.1f} ms  ({old_load / new_load:.1f}x faster; "
          f"same engine inputs: {same_inputs(old, new)})")
    print(f"plan tomorrow (pure)     : {plan * 1000:8.1f} ms  ({len(actions):,} actions)")
    with time_machine.travel(datetime.combine(TODAY, clock(12), tzinfo=UTC), tick=False):
        dry_new, _ = timed(lambda: dunning.preview(db, db.get(Tenant, tenant_id), TOMORROW))
        client = app.test_client()
        with client.session_transaction() as s:
            s["user_id"] = user_id
        page_new, answer = timed(lambda: client.get(f"/tenants/{tenant_id}/dunning"))
        assert answer.status_code == 200, answer.status_code
        dunning.load_plan_ledger = load_ledger  # type: ignore[attr-defined]  # the page as it was
        try:
            dry_old, _ = timed(lambda: dunning.preview(db, db.get(Tenant, tenant_id), TOMORROW))
            page_old, _ = timed(lambda: client.get(f"/tenants/{tenant_id}/dunning"))
        finally:
            dunning.load_plan_ledger = load_plan_ledger  # type: ignore[attr-defined]
    print(f"dry run (preview), before: {dry_old * 1000:8.1f} ms")
    print(f"dry run (preview), after : {dry_new * 1000:8.1f} ms  ({dry_old / dry_new:.1f}x faster)")
    print(f"settings page, before    : {page_old * 1000:8.1f} ms")
    print(f"settings page, after     : {page_new * 1000:8.1f} ms  ({page_old / page_new:.1f}x faster; "
          f"the dry run is {dry_new / page_new:.0%} of it)")


if __name__ == "__main__":
    main()
