"""Receivables metrics as finance teams define them: aging buckets, DSO and CEI.

All amounts are Decimal; dates are passed in (``as_of``), never read from the clock. Inputs are
small plain records so the same functions serve the dashboard, reports and tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0")
AGING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("current", -10**6, 0), ("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None))


@dataclass(frozen=True, slots=True)
class Receivable:
    """An invoice's life: issued for ``total``; ``settlements`` are (date, amount) payments/credits."""

    invoice_id: str
    issue_date: date
    due_date: date
    total: Decimal
    settlements: tuple[tuple[date, Decimal], ...] = ()

    def outstanding_on(self, day: date) -> Decimal:
        """Balance at the end of ``day`` (zero before issue)."""
        if day < self.issue_date:
            return ZERO
        settled = sum((amount for when, amount in self.settlements if when <= day), ZERO)
        return max(ZERO, self.total - settled)


def aging(receivables: Iterable[Receivable], as_of: date) -> dict[str, Decimal]:
    """Outstanding amounts by days past due at ``as_of`` (current, 1-30, 31-60, 61-90, 90+)."""
    buckets = {name: ZERO for name, _, _ in AGING_BUCKETS}
    for r in receivables:
        balance = r.outstanding_on(as_of)
        if balance <= 0:
            continue
        overdue = (as_of - r.due_date).days
        for name, low, high in AGING_BUCKETS:
            if overdue >= low and (high is None or overdue <= high):
                buckets[name] += balance
                break
    return buckets


def dso(receivables: Sequence[Receivable], as_of: date, period_days: int = 90) -> Decimal | None:
    """Days sales outstanding: receivables at ``as_of`` / credit sales in the period x period days."""
    sales = sum((r.total for r in receivables if as_of - timedelta(days=period_days) < r.issue_date <= as_of), ZERO)
    if sales == 0:
        return None
    ar = sum((r.outstanding_on(as_of) for r in receivables), ZERO)
    return (ar / sales * period_days).quantize(Decimal("0.1"), ROUND_HALF_UP)


def cei(receivables: Sequence[Receivable], as_of: date, period_days: int = 30) -> Decimal | None:
    """Collection effectiveness index (%): how much of what could be collected in the period was.

    CEI = (begin AR + sales - end AR) / (begin AR + sales - end current AR) x 100.
    """
    start = as_of - timedelta(days=period_days)
    begin = sum((r.outstanding_on(start) for r in receivables), ZERO)
    sales = sum((r.total for r in receivables if start < r.issue_date <= as_of), ZERO)
    end_total = sum((r.outstanding_on(as_of) for r in receivables), ZERO)
    end_current = sum((r.outstanding_on(as_of) for r in receivables if r.due_date >= as_of), ZERO)
    collectable = begin + sales - end_current
    if collectable <= 0:
        return None
    return ((begin + sales - end_total) / collectable * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
