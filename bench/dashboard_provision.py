"""Time the dashboard of a tenant with a long settled history, with the write-off provision matrix measured
on every request (before) and cached for the tenant's day in Redis (after).

Builds, in a few bulk INSERTs, a tenant with ``--closed`` settled invoices over three years (most paid with a
payment row, some voided or credited in full after their due date: written off) and ``--open`` open
invoices (tests/addon/helpers.insert_big_ledger), in a temporary SQLite file (or ``--database-url``, whose
bench tenant is deleted again at the end). Then times, best of ``--repeat``, each from an empty session as a
request starts:

- measuring the matrix alone (``past_invoices`` + ``provision_matrix``) against reading it from the cache;
- ``tenant_dashboard`` without the cache, and with a warm one (the first request of the day stores it),
  checking that both give the same figures;
- with the cache warm, the dashboard as it read before (every open and paid invoice and every allocation of
  the tenant: tests/addon/dashboard_reference.py) against ``tenant_dashboard``, which reads only the
  invoices its figures can depend on and their allocations, checking the figures are identical.

Prints the figures and the before/after ratios. Figures are printed, never asserted. Redis: ``REDIS_URL``
(default db 12); the bench tenant's cache keys are deleted at the end.

    .venv/bin/python bench/dashboard_provision.py
    .venv/bin/python bench/dashboard_provision.py --closed 1000000 --open 20000 --repeat 2
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

from redis import Redis
from sqlalchemy import select

from addon.domain.write_offs import provision_matrix
from addon.models import CreditAllocation, CreditNote, Invoice, Payment, PaymentAllocation, Tenant
from addon.services import provision_cache
from addon.services.bad_debt import past_invoices
from addon.services.dashboard import tenant_dashboard
from addon.services.dashboard_reads import settlements
from bench.support import bench_app, best_of, drop_tenant
from tests.addon.dashboard_reference import full_read_dashboard
from tests.addon.helpers import insert_big_ledger

TODAY = date(2026, 12, 7)
CHUNK = 20_000  # rows per INSERT: one statement per table would hold the whole history in memory twice


def build(db: Any, closed: int, open_: int, customers: int, seed: int) -> int:
    """The tenant with its settled history and open invoices; returns its id."""
    rng = random.Random(seed)
    tenant = Tenant(platform="fake", remote_id=f"bench-{os.getpid()}", name="Bench History Ltd",
                    base_currency="GBP", country="GB")
    db.add(tenant)
    db.flush()
    ids = insert_big_ledger(db, tenant, customers=customers, invoices=open_, due=TODAY - timedelta(days=30))
    for start in range(0, closed, CHUNK):
        batch = range(start, min(start + CHUNK, closed))
        invoices, fates = [], {}
        for n in batch:
            due = TODAY - timedelta(days=rng.randint(30, 3 * 365))
            late = max(-10, int(rng.expovariate(1 / 20)) - 5)
            fate = rng.choices(("paid", "voided", "credited"), (0.96, 0.02, 0.02))[0]
            total = Decimal(rng.randint(5_000, 500_000)) / 100
            fates[f"h{n}"] = (fate, due + timedelta(days=late if fate == "paid" else rng.randint(60, 200)), total)
            invoices.append({"tenant_id": tenant.id, "remote_id": f"h{n}", "number": f"H-{n:07d}",
                             "customer_id": ids[n % customers], "currency": rng.choice(("GBP", "GBP", "EUR")),
                             "issue_date": due - timedelta(days=30), "due_date": due, "total": total,
                             "amount_due": Decimal("0"), "amount_paid": total if fate == "paid" else Decimal("0"),
                             "status": "voided" if fate == "voided" else "paid",
                             "fully_paid_on": fates[f"h{n}"][1] if fate != "voided" else None,
                             "remote_updated_at": datetime.combine(fates[f"h{n}"][1], clock(12), tzinfo=UTC)})
        db.execute(Invoice.__table__.insert(), invoices)
        rows = db.execute(select(Invoice.id, Invoice.remote_id, Invoice.currency)
                          .where(Invoice.tenant_id == tenant.id, Invoice.remote_id.in_(list(fates)))).all()
        paid = [(i, r, c) for i, r, c in rows if fates[r][0] == "paid"]
        credited = [(i, r, c) for i, r, c in rows if fates[r][0] == "credited"]
        db.execute(Payment.__table__.insert(), [
            {"tenant_id": tenant.id, "remote_id": f"p{r}", "date": fates[r][1], "amount": fates[r][2], "currency": c}
            for _, r, c in paid])
        db.execute(CreditNote.__table__.insert(), [
            {"tenant_id": tenant.id, "remote_id": f"cn{r}", "date": fates[r][1], "total": fates[r][2],
             "remaining": Decimal("0"), "currency": c} for _, r, c in credited])
        pay_ids = dict(db.execute(select(Payment.remote_id, Payment.id).where(
            Payment.tenant_id == tenant.id, Payment.remote_id.in_([f"p{r}" for _, r, _ in paid]))).all())
        note_ids = dict(db.execute(select(CreditNote.remote_id, CreditNote.id).where(
            CreditNote.tenant_id == tenant.id, CreditNote.remote_id.in_([f"cn{r}" for _, r, _ in credited]))).all())
        db.execute(PaymentAllocation.__table__.insert(), [
            {"tenant_id": tenant.id, "payment_id": pay_ids[f"p{r}"], "invoice_id": i, "invoice_remote_id": r,
             "amount": fates[r][2], "currency": c} for i, r, c in paid])
        if credited:
            db.execute(CreditAllocation.__table__.insert(), [
                {"tenant_id": tenant.id, "credit_note_id": note_ids[f"cn{r}"], "invoice_id": i,
                 "invoice_remote_id": r, "amount": fates[r][2], "currency": c} for i, r, c in credited])
        db.commit()
    db.commit()
    return tenant.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--closed", type=int, default=200_000, help="settled invoices in the history")
    parser.add_argument("--open", type=int, default=10_000, help="open invoices")
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs each")
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()
    with bench_app(args.database_url) as (app, url):
        redis = Redis.from_url(app.config["REDIS_URL"])
        tenant_id = 0
        try:
            with app.app_context():
                db = app.extensions["cashline_db"].session
                started = time.perf_counter()
                tenant_id = build(db, args.closed, args.open, args.customers, args.seed)
                print(f"{args.closed:,} settled + {args.open:,} open invoices, {args.customers:,} customers on "
                      f"{url.split(':')[0]} (built in {time.perf_counter() - started:.1f} s); best of {args.repeat}")
                measure(db, redis, tenant_id, args.repeat)
        finally:
            if tenant_id:
                redis.delete(provision_cache.cache_key(tenant_id), provision_cache.generation_key(tenant_id))
            if args.database_url:  # a shared database: take the bench tenant's rows out again
                drop_tenant(app, tenant_id)


def measure(db: Any, redis: Redis, tenant_id: int, repeat: int) -> None:
    def timed(run: Callable[[], Any]) -> tuple[float, Any]:  # every request starts with an empty session
        return best_of(repeat, run, before=db.expunge_all, after=db.rollback)

    def matrix_fresh() -> Any:
        paid, credited = settlements(db, tenant_id)
        return provision_matrix(past_invoices(db, tenant_id, paid, credited), TODAY)

    redis.delete(provision_cache.cache_key(tenant_id))
    fresh_time, fresh = timed(matrix_fresh)
    tenant_dashboard(db, db.get(Tenant, tenant_id), TODAY, redis=redis)  # the day's first request stores it
    cached_time, cached = timed(lambda: provision_cache.lookup(redis, db.get(Tenant, tenant_id),
                                                                             TODAY).matrix)
    print(f"provision matrix, measured : {fresh_time * 1000:9.1f} ms (with the settlements it reads)")
    print(f"provision matrix, cached   : {cached_time * 1000:9.1f} ms  ({fresh_time / cached_time:,.0f}x faster; "
          f"same rates: {cached == fresh})")
    before, old = timed(lambda: tenant_dashboard(db, db.get(Tenant, tenant_id), TODAY))
    after, new = timed(lambda: tenant_dashboard(db, db.get(Tenant, tenant_id), TODAY, redis=redis))
    print(f"dashboard, measured        : {before * 1000:9.1f} ms")
    print(f"dashboard, cached matrix   : {after * 1000:9.1f} ms  ({before / after:.1f}x faster; "
          f"identical figures: {old == new})")
    full, reference = timed(lambda: full_read_dashboard(db, db.get(Tenant, tenant_id), TODAY, fresh))
    print(f"dashboard, cached, full read (before)   : {full * 1000:9.1f} ms")
    print(f"dashboard, cached, figures' rows (after): {after * 1000:9.1f} ms  ({full / after:.1f}x faster; "
          f"identical figures: {reference == new})")
    if old != new or cached != fresh:
        sys.exit("the cached figures differ from the fresh ones")
    if reference != new or list(reference["currencies"]) != list(new["currencies"]):
        sys.exit("the dashboard's figures differ from the full read's")


if __name__ == "__main__":
    main()
