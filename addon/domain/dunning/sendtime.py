"""Send-time optimisation: learn per customer the local weekday/hour after which payment tends to follow."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from addon.domain.dunning.model import SendSlot

PAID_WITHIN = timedelta(days=7)  # a payment this soon after a reminder counts as "followed"
MIN_SAMPLES = 3  # fewer reminders than this in a slot is noise: fall back to the tenant default
K = TypeVar("K", int, tuple[int, int])
SMOOTHING = 2.0  # pseudo-observations pulling each slot towards the customer's overall rate


@dataclass(frozen=True, slots=True)
class ReminderOutcome:
    """A reminder that was sent, and when (if at all) the invoice was paid afterwards."""

    customer_id: str
    sent_at: datetime
    paid_at: datetime | None


def learn_send_slots(outcomes: Iterable[ReminderOutcome], timezones: Mapping[str, str | None],
                     default_timezone: str, *, min_samples: int = MIN_SAMPLES) -> dict[str, SendSlot]:
    """Best local send slot per customer; customers without enough evidence are left out."""
    by_customer: dict[str, list[tuple[int, int, bool]]] = defaultdict(list)
    for outcome in outcomes:
        zone = _zone(timezones.get(outcome.customer_id), default_timezone)
        local = outcome.sent_at.astimezone(zone)
        gap = outcome.paid_at - outcome.sent_at if outcome.paid_at is not None else None
        followed = gap is not None and timedelta(0) <= gap <= PAID_WITHIN
        by_customer[outcome.customer_id].append((local.weekday(), local.hour, followed))
    slots: dict[str, SendSlot] = {}
    for customer_id, rows in by_customer.items():
        slot = best_slot(rows, min_samples)
        if slot is not None:
            slots[customer_id] = slot
    return slots


def best_slot(rows: list[tuple[int, int, bool]], min_samples: int = MIN_SAMPLES) -> SendSlot | None:
    """Pick the (weekday, hour) with the best smoothed follow rate, else the best hour, else None."""
    base = sum(followed for _, _, followed in rows) / len(rows)
    if base == 0:
        return None  # nothing ever followed a reminder: no signal to learn from
    exact = _best(rows, lambda r: (r[0], r[1]), base, min_samples)
    if exact is not None:
        return SendSlot(weekday=exact[0], hour=exact[1])
    hourly = _best(rows, lambda r: r[1], base, min_samples)
    return SendSlot(weekday=None, hour=hourly) if hourly is not None else None


def _best(rows: list[tuple[int, int, bool]], key: Callable[[tuple[int, int, bool]], K], base: float,
          min_samples: int) -> K | None:
    groups: dict[K, list[bool]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row[2])
    scored = [((sum(v) + SMOOTHING * base) / (len(v) + SMOOTHING), k) for k, v in groups.items()
              if len(v) >= min_samples and any(v)]
    if not scored:
        return None
    # Ties resolve to the earliest slot so the result does not depend on input order.
    return min(scored, key=lambda item: (-item[0], item[1]))[1]


def _zone(name: str | None, default: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)
