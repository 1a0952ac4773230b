"""Per-tenant rate limits as the platforms enforce them: calls per minute, per day, and in flight.

The emulators use this to answer 429 exactly when the real service would, and to count what they
served so tests and benchmarks can prove a client stayed inside the limits.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    per_minute: int
    per_day: int | None
    concurrent: int


@dataclass
class Decision:
    allowed: bool
    problem: str | None = None  # 'minute' | 'day' | 'concurrent'
    retry_after: int = 0
    minute_remaining: int = 0
    day_remaining: int | None = None


@dataclass
class TenantCounters:
    minute: deque[float] = field(default_factory=deque)
    day: deque[float] = field(default_factory=deque)
    in_flight: int = 0
    served: int = 0
    rejected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    peak_in_flight: int = 0


class RateLimiter:
    """Sliding-window limiter. ``acquire`` before handling a request, ``release`` after."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self.tenants: dict[str, TenantCounters] = defaultdict(TenantCounters)

    def acquire(self, tenant: str) -> Decision:
        now = self._clock()
        with self._lock:
            c = self.tenants[tenant]
            _expire(c.minute, now - 60)
            _expire(c.day, now - 86400)
            decision = self._check(c, now)
            if decision.allowed:
                c.minute.append(now)
                c.day.append(now)
                c.in_flight += 1
                c.served += 1
                c.peak_in_flight = max(c.peak_in_flight, c.in_flight)
                decision.minute_remaining -= 1
                if decision.day_remaining is not None:
                    decision.day_remaining -= 1
            else:
                c.rejected[decision.problem or "unknown"] += 1
            return decision

    def release(self, tenant: str) -> None:
        with self._lock:
            self.tenants[tenant].in_flight = max(0, self.tenants[tenant].in_flight - 1)

    def _check(self, c: TenantCounters, now: float) -> Decision:
        lim = self.limits
        minute_left = lim.per_minute - len(c.minute)
        day_left = None if lim.per_day is None else lim.per_day - len(c.day)
        base = Decision(True, minute_remaining=minute_left, day_remaining=day_left)
        if day_left is not None and day_left <= 0:
            return Decision(False, "day", _retry_after(c.day, now, 86400), minute_left, 0)
        if minute_left <= 0:
            return Decision(False, "minute", _retry_after(c.minute, now, 60), 0, day_left)
        if c.in_flight >= lim.concurrent:
            return Decision(False, "concurrent", 1, minute_left, day_left)
        return base

    def total_rejected(self) -> int:
        with self._lock:
            return sum(sum(c.rejected.values()) for c in self.tenants.values())


def _expire(window: deque[float], cutoff: float) -> None:
    while window and window[0] <= cutoff:
        window.popleft()


def _retry_after(window: deque[float], now: float, span: int) -> int:
    # Seconds until the oldest call in the window falls out of it (at least 1).
    return max(1, int(window[0] + span - now + 0.999)) if window else 1
