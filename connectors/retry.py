"""Retry policy shared by every connector (after stripe's ``HTTPClient``).

``should_retry`` and ``backoff_seconds`` are pure so they can be tested as tables; ``call_with_retries``
is the template that applies them around one SDK call.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from connectors.errors import RateLimitedError, TransientError

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_ATTEMPTS = 4
BASE_DELAY = 0.5
MAX_DELAY = 30.0


def should_retry(status: int | None, headers: Mapping[str, str] | None, attempt: int,
                 max_attempts: int = MAX_ATTEMPTS) -> bool:
    """429 and 5xx (and network failures, status None) are retried; 4xx never, and never past max."""
    if attempt >= max_attempts:
        return False
    if status is None:
        return True
    return status == 429 or 500 <= status < 600


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Parse a numeric ``Retry-After`` header (case-insensitive); None when absent or not a number."""
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential back-off capped at MAX_DELAY; a server's Retry-After always wins."""
    if retry_after is not None:
        return retry_after
    return add_jitter(min(MAX_DELAY, BASE_DELAY * (2 ** (attempt - 1))))


def add_jitter(delay: float) -> float:
    # Jitter spreads out workers that failed together so they do not retry in lock-step.
    return delay * (0.75 + random.random() * 0.5)


def call_with_retries(fn: Callable[[], T], *, max_attempts: int = MAX_ATTEMPTS,
                      sleep: Callable[[float], None] = time.sleep,
                      max_wait: float = MAX_DELAY) -> T:
    """Run ``fn`` (which raises typed connector errors), retrying rate limits and transient failures.

    A rate limit that asks us to wait longer than ``max_wait`` is re-raised so the job layer can
    reschedule instead of blocking a worker.
    """
    attempt = 1
    while True:
        try:
            return fn()
        except RateLimitedError as exc:
            if not should_retry(429, None, attempt, max_attempts) or exc.retry_after > max_wait:
                raise
            delay = backoff_seconds(attempt, exc.retry_after)
        except TransientError as exc:
            if not should_retry(exc.status, None, attempt, max_attempts):
                raise
            delay = backoff_seconds(attempt)
        logger.info("retrying after %.2fs (attempt %d)", delay, attempt)
        sleep(delay)
        attempt += 1
