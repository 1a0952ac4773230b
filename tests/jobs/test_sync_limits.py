"""Four workers backfilling one Xero organisation share one Redis limiter and earn no 429s.

The emulator runs at lowered limits (30 calls per "minute", 2 in flight). To keep the test short, the
emulator's limiter clock runs 6x fast (its 60 s window lasts 10 real seconds) and the Redis limiter's
window is set to match (10.5 s: a little longer, as in production). The load is larger than one
window's budget, so the shared limiter has to spread it over two windows, and the emulator records
every request it admits, so the windows are checked independently of its own counters.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addon.models import Invoice, Tenant
from addon.services import sync
from addon.services.ratelimit import RedisRateLimiter, TenantLimits
from connectors.sandbox.limits import Decision, Limits, RateLimiter
from connectors.tokens import InMemoryTokenStore
from connectors.xero import XeroConnector
from connectors.xero.emulator.testing import XeroSandbox, authorize, make_connector, start_xero_emulator

SPEED = 6.0  # emulator seconds per real second
LIMITS = Limits(per_minute=30, per_day=None, concurrent=2)
OUR_LIMITS = TenantLimits(per_minute=30, per_day=None, concurrent=2, window_ms=int(60_000 / SPEED) + 500)
WORKERS = 4
INVOICES = 40
PAGE_SIZE = 10  # small pages: more calls per backfill, so four of them overrun one window's budget


class RecordingLimiter(RateLimiter):
    """The emulator's limiter, also keeping the (emulator-clock) time of every admitted request."""

    def __init__(self, limits: Limits, clock: Callable[[], float]) -> None:
        super().__init__(limits, clock)
        self.admitted: list[float] = []

    def acquire(self, tenant: str) -> Decision:
        decision = super().acquire(tenant)
        if decision.allowed:
            self.admitted.append(self._clock())
        return decision


@pytest.fixture
def sandbox() -> Iterator[XeroSandbox]:
    with start_xero_emulator(seed=5, customers=6, invoices=INVOICES, limits=LIMITS) as sb:
        origin = time.monotonic()
        sb.state.limiter = RecordingLimiter(LIMITS, lambda: (time.monotonic() - origin) * SPEED)
        yield sb


def _connector(sandbox: XeroSandbox, tokens: InMemoryTokenStore, redis_url: str | None) -> XeroConnector:
    conn = make_connector(sandbox, tokens)
    conn.page_size = PAGE_SIZE
    conn._sleep = lambda _s: None  # a 429 must fail the worker, not be waited out
    if redis_url is not None:  # each worker: its own Redis client and limiter, one shared key
        limiter = RedisRateLimiter(redis.Redis.from_url(redis_url), f"xero:{sandbox.tenant_id}", OUR_LIMITS,
                                   max_wait=30)
        conn.throttle = limiter.slot
    return conn


def _run_workers(target: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            target(n)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,), name=f"worker-{n}") for n in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return errors


def _serialised_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    # In production RQ's per-tenant concurrency limit keeps two syncs of one tenant from writing at
    # once; here only the API traffic is meant to overlap, so the upserts take turns (and commit).
    lock, original = threading.Lock(), sync.apply_changes

    def apply_changes(session: Session, tenant: Tenant, changes: Any) -> sync.SyncResult:
        with lock:
            result = original(session, tenant, changes)
            session.commit()
            return result

    monkeypatch.setattr(sync, "apply_changes", apply_changes)


@pytest.mark.slow
def test_four_workers_share_the_limit_and_earn_no_429s(app: Any, db: Session, make_tenant: Any,
                                                       redis_conn: Any, redis_url: str, sandbox: XeroSandbox,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = make_tenant(platform="xero", remote_id=sandbox.tenant_id)
    db.commit()
    tokens = InMemoryTokenStore(authorize(sandbox))
    engine = app.extensions["cashline_db"].engine
    _serialised_writes(monkeypatch)

    def backfill(_n: int) -> None:
        connector = _connector(sandbox, tokens, redis_url)
        with Session(engine, expire_on_commit=False) as session:
            sync.backfill(session, session.get(Tenant, tenant.id), connector, now=datetime.now(UTC))
            session.commit()

    started = time.monotonic()
    errors = _run_workers(backfill)
    elapsed = time.monotonic() - started

    assert errors == []
    counters = sandbox.limiter.tenants[sandbox.tenant_id]
    assert dict(counters.rejected) == {}
    assert sandbox.limiter.total_rejected() == 0
    assert 1 <= counters.peak_in_flight <= LIMITS.concurrent
    assert counters.served > LIMITS.per_minute  # more than one window's budget went through
    admitted = sorted(sandbox.limiter.admitted)  # type: ignore[attr-defined]
    assert len(admitted) == counters.served
    window = LIMITS.per_minute
    assert all(later - first >= 60 for first, later in zip(admitted, admitted[window:], strict=False)), \
        "more than per_minute requests inside one emulator minute"
    assert elapsed < 30
    mirrored = db.scalar(select(func.count()).select_from(Invoice).where(Invoice.tenant_id == tenant.id))
    assert mirrored == INVOICES


def test_without_the_shared_limiter_the_same_load_is_throttled(sandbox: XeroSandbox) -> None:
    # The control: the same four workers, unthrottled, overrun the emulator's limits at once.
    tokens = InMemoryTokenStore(authorize(sandbox))

    def read_all(_n: int) -> None:
        connector = _connector(sandbox, tokens, None)
        for _ in range(3):
            list(connector.list_invoices())
            list(connector.list_payments())

    errors = _run_workers(read_all)
    assert sandbox.limiter.total_rejected() > 0
    assert errors, "workers ran into 429s they could not retry past"
