"""The shared per-tenant limiter on the real Redis."""

from __future__ import annotations

import threading

import pytest

from addon.services.ratelimit import RedisRateLimiter, TenantLimits
from connectors.errors import RateLimitedError


def test_minute_window_blocks_the_call_past_the_limit(redis_conn) -> None:
    limits = TenantLimits(3, None, 5)
    limiter = RedisRateLimiter(redis_conn, "t1", limits, max_wait=0.5)
    for _ in range(3):
        with limiter.slot():
            pass
    with pytest.raises(RateLimitedError) as err, limiter.slot():
        pass
    assert err.value.problem == "minute"
    # The oldest call's window end, plus the 1 ms the script adds so the retry lands after it.
    assert 59 <= err.value.retry_after <= limits.window_ms / 1000 + 0.001


def test_day_window(redis_conn) -> None:
    limiter = RedisRateLimiter(redis_conn, "t2", TenantLimits(100, 2, 5), max_wait=1)
    for _ in range(2):
        with limiter.slot():
            pass
    with pytest.raises(RateLimitedError, match="day"), limiter.slot():
        pass


def test_tenants_are_limited_independently(redis_conn) -> None:
    a = RedisRateLimiter(redis_conn, "a", TenantLimits(1, None, 5), max_wait=0.1)
    b = RedisRateLimiter(redis_conn, "b", TenantLimits(1, None, 5), max_wait=0.1)
    with a.slot(), b.slot():
        pass


def test_concurrency_cap_is_shared_by_all_holders(redis_conn) -> None:
    limits = TenantLimits(1000, None, 2)
    in_flight, peak = [0], [0]
    lock = threading.Lock()

    def call() -> None:
        limiter = RedisRateLimiter(redis_conn, "c", limits, max_wait=10)  # separate instances, one key
        with limiter.slot():
            with lock:
                in_flight[0] += 1
                peak[0] = max(peak[0], in_flight[0])
            threading.Event().wait(0.05)
            with lock:
                in_flight[0] -= 1

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2


def test_a_crashed_holder_does_not_leak_its_slot(redis_conn) -> None:
    limiter = RedisRateLimiter(redis_conn, "d", TenantLimits(1000, None, 1), max_wait=2, slot_ttl_ms=300)
    ok, _, _ = limiter.try_acquire("crashed-worker")  # acquired and never released
    assert ok
    with limiter.slot():  # succeeds once the orphaned slot expires
        pass
