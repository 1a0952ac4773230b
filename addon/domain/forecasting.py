"""Probabilistic cash-in forecast from per-invoice payment-date quantiles.

Each open invoice contributes its amount due, spread over weeks by a piecewise-linear CDF through its
predicted (p10, p50, p90) pay dates (days relative to the due date, from the risk model). Weekly
totals are expected values; the band uses the variance of independent per-invoice arrivals, so the
forecast says both "how much" and "how sure".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

CENT = Decimal("0.01")
Z80 = 1.2816  # two-sided 80% band of a normal approximation


@dataclass(frozen=True, slots=True)
class OpenAmount:
    invoice_id: str
    amount_due: Decimal
    due_date: date
    p10_days: int
    p50_days: int
    p90_days: int


@dataclass(frozen=True, slots=True)
class ForecastWeek:
    week_start: date
    expected: Decimal
    low: Decimal  # 10th percentile of the week's total
    high: Decimal  # 90th percentile


def pay_probability_by(item: OpenAmount, day: date, today: date) -> float:
    """P(paid on or before ``day``), conditioned on still being unpaid ``today``."""
    offset = (day - item.due_date).days
    # Knots: 0 at p10 - (p50 - p10), 0.1 at p10, 0.5 at p50, 0.9 at p90, 1 at p90 + (p90 - p50).
    lo_tail = item.p10_days - max(1, item.p50_days - item.p10_days)
    hi_tail = item.p90_days + max(1, item.p90_days - item.p50_days)
    knots = [(lo_tail, 0.0), (item.p10_days, 0.1), (item.p50_days, 0.5), (item.p90_days, 0.9), (hi_tail, 1.0)]

    def cdf(x: float) -> float:
        if x <= knots[0][0]:
            return 0.0
        for (x0, y0), (x1, y1) in pairwise(knots):
            if x <= x1:
                return y0 + (y1 - y0) * ((x - x0) / (x1 - x0) if x1 > x0 else 1.0)
        return 1.0

    already = cdf((today - item.due_date).days)
    if already >= 1.0:
        return 1.0  # predicted to have been paid already: expect it imminently
    return max(0.0, (cdf(offset) - already) / (1.0 - already))


def forecast_cash(items: Iterable[OpenAmount], today: date, weeks: int = 13) -> list[ForecastWeek]:
    """Weekly expected cash-in for the next ``weeks`` weeks, with an 80% band."""
    items = list(items)
    # P(paid by the end of each week), once per item and week: a week's share is the difference of two
    # consecutive ends (the day before a week starts is the previous week's end).
    by_week_end = [[pay_probability_by(item, today + timedelta(days=7 * w + 6), today) for w in range(weeks)]
                   for item in items]
    out = []
    for w in range(weeks):
        start = today + timedelta(days=7 * w)
        mean, var = 0.0, 0.0
        for item, cumulative in zip(items, by_week_end, strict=True):
            p = cumulative[w] - (cumulative[w - 1] if w else 0.0)
            a = float(item.amount_due)
            mean += a * p
            var += a * a * p * (1 - p)
        sd = math.sqrt(var)
        out.append(ForecastWeek(start, _money(mean), _money(max(0.0, mean - Z80 * sd)), _money(mean + Z80 * sd)))
    return out


def _money(x: float) -> Decimal:
    return Decimal(str(x)).quantize(CENT, ROUND_HALF_UP)
