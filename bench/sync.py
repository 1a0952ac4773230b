"""Sync benchmark: API calls per 1,000 invoices, and a rate-limited backfill with 4 workers.

(a) API calls per 1,000 invoices for a backfill (contacts, invoices, payments, credit notes), counted
    as requests the emulator served; Xero with 100-row pages (target: invoice listing <= 11), QBO with
    its 1,000-row query pages. Run at unlimited emulator limits (counting, not timing).
(b) Wall time to backfill ``--invoices`` invoices at the emulators' REAL limits (Xero 60/min,
    5 concurrent; QBO 500/min, 10 concurrent) with ``--workers`` threads that each hold their own
    connector and their own RedisRateLimiter on one shared per-tenant key (as RQ workers would),
    plus the 429s the emulator answered (target 0) and its peak in-flight requests. The backfill's
    four listings (contacts, invoices, payments, credit notes) are the work items the workers share;
    the results are then upserted with addon.services.sync.apply_changes and committed.

A full 20,000-invoice Xero run is bound by 60 calls/min (about 7 minutes). ``--quick`` runs (b) on
``--quick-invoices`` instead and prints the time projected for ``--invoices`` from the measured rate.

    .venv/bin/python bench/sync.py [--platform xero|qbo|both] [--invoices 20000] [--quick]
        [--workers 4] [--redis-url redis://127.0.0.1:6379/12] [--database-url URL]

Figures are printed, never asserted. The database defaults to a temporary SQLite file; with
``--database-url`` the bench tenant's rows are deleted again at the end.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import delete
from sqlalchemy.orm import Session

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from addon import migrate
from addon.extensions import make_engine
from addon.models import Base, Tenant
from addon.services.ratelimit import RedisRateLimiter, TenantLimits
from addon.services.sync import apply_changes
from connectors.base import AccountingConnector, ChangeSet
from connectors.sandbox.limits import Limits, RateLimiter
from connectors.tokens import InMemoryTokenStore

UNLIMITED = Limits(per_minute=10**9, per_day=None, concurrent=10**6)
ENTITIES = ("contacts", "invoices", "payments", "credit_notes")


@dataclass
class Platform:
    """A running emulator and how to build connectors for it."""

    name: str
    sandbox: Any
    tenant: str  # the emulator limiter's tenant key
    real_limits: Limits
    make: Callable[[], AccountingConnector]

    def reset_limiter(self, limits: Limits) -> RateLimiter:
        # The emulators read state.limiter on every request: a fresh one starts counting from zero.
        self.sandbox.state.limiter = RateLimiter(limits)
        return self.sandbox.state.limiter  # type: ignore[no-any-return]


@contextmanager
def start(platform: str, invoices: int, customers: int) -> Iterator[Platform]:
    """Seed and serve the platform's emulator with ``invoices`` invoices (seed 7)."""
    if platform == "xero":
        from connectors.xero.emulator.app import XERO_LIMITS
        from connectors.xero.emulator.testing import authorize, make_connector, start_xero_emulator

        with start_xero_emulator(seed=7, customers=customers, invoices=invoices, limits=UNLIMITED) as sb:
            tokens = InMemoryTokenStore(authorize(sb))
            yield Platform("xero", sb, sb.tenant_id, XERO_LIMITS, lambda: make_connector(sb, tokens))
    else:
        from connectors.quickbooks.emulator.app import DEFAULT_LIMITS
        from connectors.quickbooks.emulator.testing import authorize as qbo_authorize
        from connectors.quickbooks.emulator.testing import make_connector as qbo_connector
        from connectors.quickbooks.emulator.testing import start_qbo_emulator

        with start_qbo_emulator(7, customers=customers, invoices=invoices, limits=UNLIMITED) as sb:
            tokens = InMemoryTokenStore(qbo_authorize(sb))
            yield Platform("qbo", sb, sb.realm_id, DEFAULT_LIMITS, lambda: qbo_connector(sb, tokens))


def listing(connector: AccountingConnector, entity: str) -> list[Any]:
    """One backfill listing (everything of one entity type)."""
    return list(getattr(connector, f"list_{entity}")())


def count_calls(platform: str, invoices: int, customers: int) -> dict[str, int]:
    """(a): requests the emulator served per listing of a full backfill."""
    with start(platform, invoices, customers) as p:
        connector = p.make()
        limiter = p.reset_limiter(UNLIMITED)
        calls: dict[str, int] = {}
        for entity in ENTITIES:
            before = limiter.tenants[p.tenant].served
            listing(connector, entity)
            calls[entity] = limiter.tenants[p.tenant].served - before
        return calls


def parallel_backfill(p: Platform, workers: int, redis_url: str, database_url: str) -> dict[str, Any]:
    """(b): the backfill's listings on ``workers`` threads sharing one Redis limiter key, then upserts."""
    limits = p.real_limits
    ours = TenantLimits(limits.per_minute, limits.per_day, limits.concurrent)
    key = f"bench:{p.name}:{p.tenant}:{uuid.uuid4().hex[:8]}"

    def work(entity: str) -> list[Any]:
        connector = p.make()
        connector.throttle = RedisRateLimiter(redis.Redis.from_url(redis_url), key, ours, max_wait=600).slot
        return listing(connector, entity)

    limiter = p.reset_limiter(limits)
    started = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        results = dict(zip(ENTITIES, pool.map(work, ENTITIES), strict=True))
    fetched = time.monotonic()
    written = upsert(p, results, database_url)
    done = time.monotonic()
    _forget(redis_url, key)
    counters = limiter.tenants[p.tenant]
    return {"calls": counters.served, "rejected": limiter.total_rejected(), "peak": counters.peak_in_flight,
            "fetch_s": fetched - started, "write_s": done - fetched, "total_s": done - started,
            "invoices": len(results["invoices"]), "rows": written}


def upsert(p: Platform, results: dict[str, list[Any]], database_url: str) -> int:
    """Mirror the fetched entities into the database as the sync service does; returns rows upserted."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        tenant = Tenant(platform=p.name, remote_id=f"bench-{uuid.uuid4().hex[:12]}", name="Sync bench",
                        base_currency="GBP")
        session.add(tenant)
        session.commit()
        tenant_id = tenant.id
    try:
        with Session(engine) as session:
            result = apply_changes(session, session.get_one(Tenant, tenant_id), ChangeSet(
                contacts=results["contacts"], invoices=results["invoices"], payments=results["payments"],
                credit_notes=results["credit_notes"], deleted={}))
            session.commit()
        return result.contacts + result.invoices + result.payments + result.credit_notes
    finally:
        _delete_tenant(engine, tenant_id)
        engine.dispose()


def _delete_tenant(engine: Any, tenant_id: int) -> None:
    # Leave a shared database as we found it: children first, the tenant row last.
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if "tenant_id" in table.c:
                conn.execute(delete(table).where(table.c.tenant_id == tenant_id))
        conn.execute(delete(Tenant).where(Tenant.id == tenant_id))


def _forget(redis_url: str, key: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.delete(*[f"cashline:rl:{key}:{part}" for part in ("min", "day", "inflight")])
    client.close()


def projected_seconds(calls: int, measured_rate: float, limits: Limits) -> float:
    """Time for ``calls`` requests: the first minute's budget at the measured pace, then at the limit."""
    window = TenantLimits(limits.per_minute, limits.per_day, limits.concurrent).window_ms / 1000
    burst = min(calls, limits.per_minute)
    return max(calls / measured_rate, burst / measured_rate + (calls - burst) * window / limits.per_minute)


def report_calls(platform: str, calls: dict[str, int], invoices: int) -> float:
    per_k = {e: n * 1000 / invoices for e, n in calls.items()}
    total = sum(per_k.values())
    target = "  (target <= 11 for invoices)" if platform == "xero" else ""
    print(f"[{platform}] (a) API calls per 1,000 invoices backfilled ({invoices} invoices): "
          f"invoices {per_k['invoices']:.1f}{target}; all four listings {total:.1f} "
          f"(contacts {per_k['contacts']:.1f}, payments {per_k['payments']:.1f}, "
          f"credit notes {per_k['credit_notes']:.1f})")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", choices=("xero", "qbo", "both"), default="both")
    parser.add_argument("--invoices", type=int, default=20_000, help="size of the (b) backfill")
    parser.add_argument("--count-invoices", type=int, default=1000, help="size of the (a) call count")
    parser.add_argument("--quick", action="store_true", help="run (b) smaller and project the full time")
    parser.add_argument("--quick-invoices", type=int, default=3000,
                        help="enough for Xero to pass one minute's budget (about 70 s)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="a scratch Redis db")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the emulators' per-request access log

    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        migrate.upgrade(database_url)
        for platform in ("xero", "qbo") if args.platform == "both" else (args.platform,):
            run_platform(platform, args, database_url)


def run_platform(platform: str, args: argparse.Namespace, database_url: str) -> None:
    customers = max(12, args.count_invoices // 40)
    calls = count_calls(platform, args.count_invoices, customers)
    per_k = report_calls(platform, calls, args.count_invoices)
    size = args.quick_invoices if args.quick else args.invoices
    with start(platform, size, max(12, size // 40)) as p:
        out = parallel_backfill(p, args.workers, args.redis_url, database_url)
    lim = p.real_limits
    print(f"[{platform}] (b) backfill of {out['invoices']} invoices at real limits ({lim.per_minute}/min, "
          f"{lim.concurrent} concurrent), {args.workers} workers: {out['total_s']:.1f} s "
          f"(fetch {out['fetch_s']:.1f} s, upsert {out['write_s']:.1f} s, {out['rows']} rows); "
          f"{out['calls']} calls; 429s: {out['rejected']} (target 0); peak in flight: {out['peak']}")
    if args.quick:
        rate = out["calls"] / max(out["fetch_s"], 1e-6)
        needed = round(per_k * args.invoices / 1000)
        fetch = projected_seconds(needed, rate, lim)
        write = out["write_s"] * args.invoices / max(out["invoices"], 1)
        print(f"[{platform}]     projected for {args.invoices} invoices: <= ~{needed} calls, "
              f"~{fetch + write:.0f} s (fetch {fetch:.0f} s at min(measured {rate * 60:.0f}/min, "
              f"the limit), upsert {write:.0f} s scaled linearly)")


if __name__ == "__main__":
    main()
