"""The 13-week forecast as it was computed before it was vectorised: one Python loop per invoice and week.

Kept verbatim as the oracle: ``addon.domain.forecasting.forecast_cash`` must give the same Decimals to the
cent (tests/domain/test_forecast_vectorised.py) and ``bench/forecast_speed.py`` times both. Each invoice's
probability comes from the product's scalar ``pay_probability_by``, the function the arrays reproduce.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from addon.domain.forecasting import CUSTOMER_CORRELATION, ForecastWeek, OpenAmount, pay_probability_by

CENT = Decimal("0.01")
Z80 = 1.2816


def reference_forecast_cash(items: Iterable[OpenAmount], today: date, weeks: int = 13,
                  customer_correlation: float = CUSTOMER_CORRELATION) -> list[ForecastWeek]:
    """Weekly expected cash-in for the next ``weeks`` weeks, with an 80% band per week and for the
    running total."""
    if not 0.0 <= customer_correlation <= 1.0:
        raise ValueError(f"customer_correlation {customer_correlation} is not between 0 and 1")
    items = list(items)
    groups = [item.customer_id or f"invoice:{item.invoice_id}" for item in items]
    # P(paid by the end of each week), once per item and week: a week's share is the difference of two
    # consecutive ends (the day before a week starts is the previous week's end).
    by_week_end = [[(1.0 - item.p_never) * pay_probability_by(item, today + timedelta(days=7 * w + 6), today)
                    for w in range(weeks)]
                   for item in items]
    amounts = [float(item.amount_due) for item in items]
    out = []
    previous_cum = Decimal("0")
    for w in range(weeks):
        start = today + timedelta(days=7 * w)
        mean = cum_mean = reachable = 0.0
        week_sd: list[float] = []
        cum_sds: list[float] = []
        for a, cumulative in zip(amounts, by_week_end, strict=True):
            c = cumulative[w]
            p = c - (cumulative[w - 1] if w else 0.0)
            mean += a * p
            reachable += a if p > 0 else 0.0
            cum_mean += a * c
            week_sd.append(a * math.sqrt(max(0.0, p * (1 - p))))
            cum_sds.append(a * math.sqrt(max(0.0, c * (1 - c))))
        sd = math.sqrt(_variance(week_sd, groups, 0.0))
        cum_sd = math.sqrt(_variance(cum_sds, groups, customer_correlation))
        cum = _money(cum_mean)
        # The week's expected figure is the difference of rounded running totals, so the weeks add up to
        # the cumulative figure to the cent. The bands stay within what can arrive at all.
        out.append(ForecastWeek(
            start, cum - previous_cum, _money(max(0.0, mean - Z80 * sd)), _money(min(reachable, mean + Z80 * sd)),
            cum, _money(max(0.0, cum_mean - Z80 * cum_sd)), _money(min(sum(amounts), cum_mean + Z80 * cum_sd))))
        previous_cum = cum
    return out


def _variance(sds: list[float], groups: list[str], rho: float) -> float:
    """Variance of a sum whose terms have standard deviations ``sds``, correlated ``rho`` within a group and
    independent across groups: sum of sd^2 + rho x sum over pairs i != j of one group of sd_i sd_j, i.e.
    (1 - rho) sum sd^2 + rho sum over groups (group's sum of sd)^2."""
    by_group: dict[str, float] = {}
    for sd, group in zip(sds, groups, strict=True):
        by_group[group] = by_group.get(group, 0.0) + sd
    return (1.0 - rho) * sum(sd * sd for sd in sds) + rho * sum(t * t for t in by_group.values())


def _money(x: float) -> Decimal:
    return Decimal(str(x)).quantize(CENT, ROUND_HALF_UP)
