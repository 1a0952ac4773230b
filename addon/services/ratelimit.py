"""One per-tenant rate limiter in Redis, shared by every worker process.

Sliding windows (per minute, per day) plus a concurrency cap, checked and recorded atomically in one
Lua script. A caller that is over a limit waits (the script says how long) instead of hitting the
platform and earning a 429. In-flight slots expire on their own, so a killed worker cannot leak one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from redis import Redis

from connectors.errors import RateLimitedError

# Platform limits per tenant (Xero: 60/min, 5000/day, 5 concurrent; QBO: 500/min, 10 concurrent).
PLATFORM_LIMITS: dict[str, tuple[int, int | None, int]] = {
    "xero": (60, 5000, 5),
    "qbo": (500, None, 10),
    "fake": (10_000, None, 50),
}

_ACQUIRE = """
local now = tonumber(ARGV[1])
local per_min = tonumber(ARGV[2])
local per_day = tonumber(ARGV[3])
local concurrent = tonumber(ARGV[4])
local member = ARGV[5]
local ttl = tonumber(ARGV[6])
local window = tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], 0, now - 86400000)
redis.call('ZREMRANGEBYSCORE', KEYS[3], 0, now)
if redis.call('ZCARD', KEYS[3]) >= concurrent then
  return {0, 25, 'concurrent'}
end
if redis.call('ZCARD', KEYS[1]) >= per_min then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now + 1, 'minute'}
end
if per_day > 0 and redis.call('ZCARD', KEYS[2]) >= per_day then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + 86400000 - now + 1, 'day'}
end
redis.call('ZADD', KEYS[1], now, member)
redis.call('ZADD', KEYS[2], now, member)
redis.call('ZADD', KEYS[3], now + ttl, member)
redis.call('PEXPIRE', KEYS[1], window + 1000)
redis.call('PEXPIRE', KEYS[2], 86401000)
redis.call('PEXPIRE', KEYS[3], ttl + 1000)
return {1, 0, ''}
"""


@dataclass(frozen=True)
class TenantLimits:
    per_minute: int
    per_day: int | None
    concurrent: int
    # Our window is a little longer than the platform's: our clock starts before the request reaches
    # the platform, so a same-length window could let a 61st call land inside the platform's minute.
    window_ms: int = 61_000

    @classmethod
    def for_platform(cls, platform: str, overrides: dict[str, tuple[int, int | None, int]] | None = None
                     ) -> TenantLimits:
        per_minute, per_day, concurrent = (overrides or {}).get(platform) or PLATFORM_LIMITS[platform]
        return cls(per_minute, per_day, concurrent)


class RedisRateLimiter:
    """``with limiter.slot(): call_the_api()`` — blocks until a slot is free, up to ``max_wait``."""

    def __init__(self, redis: Redis, key: str, limits: TenantLimits, *, max_wait: float = 120.0,
                 slot_ttl_ms: int = 60_000, sleep: Callable[[float], None] = time.sleep) -> None:
        self._redis = redis
        self._keys = [f"cashline:rl:{key}:{part}" for part in ("min", "day", "inflight")]
        self._limits = limits
        self._max_wait = max_wait
        self._slot_ttl_ms = slot_ttl_ms
        self._sleep = sleep
        self._script = redis.register_script(_ACQUIRE)
        self.waited_seconds = 0.0

    def try_acquire(self, member: str) -> tuple[bool, float, str]:
        now_ms = int(time.time() * 1000)
        ok, wait_ms, problem = self._script(keys=self._keys, args=[
            now_ms, self._limits.per_minute, self._limits.per_day or 0, self._limits.concurrent, member,
            self._slot_ttl_ms, self._limits.window_ms])
        return bool(ok), int(wait_ms) / 1000.0, problem.decode() if isinstance(problem, bytes) else str(problem)

    @contextmanager
    def slot(self) -> Iterator[None]:
        member = uuid.uuid4().hex
        deadline = time.monotonic() + self._max_wait
        while True:
            ok, wait, problem = self.try_acquire(member)
            if ok:
                break
            if time.monotonic() + wait > deadline:
                # Too long to block a worker: let the job layer reschedule.
                raise RateLimitedError(f"local {problem} limit reached", retry_after=wait, problem=problem)
            self.waited_seconds += wait
            self._sleep(wait)
        try:
            yield
        finally:
            self._redis.zrem(self._keys[2], member)
