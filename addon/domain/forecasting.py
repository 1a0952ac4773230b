"""Probabilistic cash-in forecast from per-invoice payment-date quantiles.

Each open invoice contributes its amount due, spread over weeks by a piecewise-linear CDF through its
predicted (p10, p50, p90) pay dates (days relative to the due date, from the risk model), conditioned on
being unpaid today. Weekly totals are expected values; the band uses the variance of independent
per-invoice arrivals, for each week and for the running total, so the forecast says both "how much" and
"how sure". An invoice may also never be paid (``p_never``, from the tenant's provision matrix in
addon.domain.write_offs): it then arrives in a week with probability (1 - p_never) x its spread there.
The backtest behind the band (and why independence holds up) is in docs/forecasting.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

import numpy as np
import numpy.typing as npt

CENT = Decimal("0.01")
Z80 = 1.2816  # two-sided 80% band of a normal approximation
# Correlation between two invoices of one customer being paid by a given day, for the running-total band:
# when the model misjudges a customer, all its invoices slip (or come early) together and the error adds
# up week after week. Chosen by bench/forecast.py (docs/forecasting.md): with independent arrivals the
# weekly band covered 83% of weeks but the running-total band only 71%. A single week's total stays
# independent: a customer's invoices slipping out of one week slip into the next, and the weekly band
# covered 94% of weeks at a correlation of 0.25, far too wide.
CUSTOMER_CORRELATION = 0.1

Knots = list[tuple[float, float]]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class OpenAmount:
    invoice_id: str
    amount_due: Decimal
    due_date: date
    p10_days: int
    p50_days: int
    p90_days: int
    customer_id: str = ""  # invoices of one customer move together (see CUSTOMER_CORRELATION); "" = alone
    p_never: float = 0.0  # P(never collected | unpaid at its age today): written off instead of paid

    def __post_init__(self) -> None:
        # A credit balance or a zero invoice is not cash to come; summing it would lower every week.
        if not self.amount_due.is_finite() or self.amount_due <= 0:
            raise ValueError(f"invoice {self.invoice_id}: amount_due {self.amount_due} is not a positive amount")
        if not 0.0 <= self.p_never <= 1.0:  # also refuses NaN
            raise ValueError(f"invoice {self.invoice_id}: p_never {self.p_never} is not a probability")


@dataclass(frozen=True, slots=True)
class ForecastWeek:
    week_start: date
    expected: Decimal
    low: Decimal  # 10th percentile of the week's total
    high: Decimal  # 90th percentile
    # The running total from today to the end of this week: expected, and its own 80% band (not the sum
    # of the weekly bands: a payment late for one week is early for the next, so the totals are steadier).
    cumulative_expected: Decimal = Decimal("0")
    cumulative_low: Decimal = Decimal("0")
    cumulative_high: Decimal = Decimal("0")


def _knots(item: OpenAmount) -> Knots:
    # Knots: 0 at p10 - (p50 - p10), 0.1 at p10, 0.5 at p50, 0.9 at p90, 1 at p90 + (p90 - p50).
    # Sorted first: a triple out of order (a stored p50 paired with a default p90) would make knots that
    # go backwards and pile the mass onto one day.
    p10, p50, p90 = sorted((item.p10_days, item.p50_days, item.p90_days))
    lo_tail = p10 - max(1, p50 - p10)
    hi_tail = p90 + max(1, p90 - p50)
    return [(lo_tail, 0.0), (p10, 0.1), (p50, 0.5), (p90, 0.9), (hi_tail, 1.0)]


def _cdf(knots: Knots, x: float) -> float:
    if x <= knots[0][0]:
        return 0.0
    for (x0, y0), (x1, y1) in pairwise(knots):
        if x <= x1:
            return y0 + (y1 - y0) * ((x - x0) / (x1 - x0) if x1 > x0 else 1.0)
    return 1.0


def pay_probability_by(item: OpenAmount, day: date, today: date) -> float:
    """P(paid on or before ``day``), conditioned on still being unpaid ``today``."""
    knots = _knots(item)
    now = (today - item.due_date).days
    if _cdf(knots, now) >= 1.0:
        # The whole predicted window has passed unpaid (a stale score, or the default spread on a long
        # overdue invoice). That says "later than predicted", not "certain this week": keep the predicted
        # spread and start it today, as the model does when it re-scores an overdue invoice (no quantile
        # before today).
        shift = now - knots[1][0]
        knots = [(x + shift, y) for x, y in knots]
    already = _cdf(knots, now)
    return max(0.0, (_cdf(knots, (day - item.due_date).days) - already) / (1.0 - already))


def forecast_cash(items: Iterable[OpenAmount], today: date, weeks: int = 13,
                  customer_correlation: float = CUSTOMER_CORRELATION) -> list[ForecastWeek]:
    """Weekly expected cash-in for the next ``weeks`` weeks, with an 80% band per week and for the
    running total."""
    if not 0.0 <= customer_correlation <= 1.0:
        raise ValueError(f"customer_correlation {customer_correlation} is not between 0 and 1")
    items = list(items)
    # The sums run over invoices as arrays (a 12,000-invoice tenant spent 0.6 s in a Python loop per
    # invoice and week), in the loop's order, so every figure is the same float, hence the same cent.
    groups = _group_index([item.customer_id or f"invoice:{item.invoice_id}" for item in items])
    n_groups = int(groups.max()) + 1 if len(items) else 0
    # P(paid by the end of each week), an (invoice x week) array: a week's share is the difference of two
    # consecutive ends (the day before a week starts is the previous week's end). An invoice that may be
    # written off is paid at all with probability 1 - p_never, so every arrival probability shrinks by that
    # factor: the expected cash with it, and the band through p (1 - p) (a Bernoulli arrival either way).
    collectable = np.array([1.0 - item.p_never for item in items])
    by_week_end = collectable[:, None] * _pay_probabilities_by_week_end(items, today, weeks)
    amounts = np.array([float(item.amount_due) for item in items])
    total = _ordered_sum(amounts)
    out = []
    previous_cum = Decimal("0")
    for w in range(weeks):
        start = today + timedelta(days=7 * w)
        c = by_week_end[:, w]
        p = c - (by_week_end[:, w - 1] if w else 0.0)
        mean = _ordered_sum(amounts * p)
        reachable = _ordered_sum(np.where(p > 0, amounts, 0.0))
        cum_mean = _ordered_sum(amounts * c)
        week_sd = amounts * np.sqrt(np.maximum(0.0, p * (1 - p)))
        cum_sds = amounts * np.sqrt(np.maximum(0.0, c * (1 - c)))
        sd = math.sqrt(_variance(week_sd, groups, n_groups, 0.0))
        cum_sd = math.sqrt(_variance(cum_sds, groups, n_groups, customer_correlation))
        cum = _money(cum_mean)
        # The week's expected figure is the difference of rounded running totals, so the weeks add up to
        # the cumulative figure to the cent. The bands stay within what can arrive at all.
        out.append(ForecastWeek(
            start, cum - previous_cum, _money(max(0.0, mean - Z80 * sd)), _money(min(reachable, mean + Z80 * sd)),
            cum, _money(max(0.0, cum_mean - Z80 * cum_sd)), _money(min(total, cum_mean + Z80 * cum_sd))))
        previous_cum = cum
    return out


def _pay_probabilities_by_week_end(items: list[OpenAmount], today: date, weeks: int) -> FloatArray:
    """``pay_probability_by(item, end of week w, today)`` for every item (rows) and week (columns), with
    the same arithmetic, element by element, as the scalar function."""
    knots_x = np.array([[x for x, _ in _knots(item)] for item in items], dtype=float).reshape(len(items), 5)
    now = np.array([(today - item.due_date).days for item in items], dtype=float)
    # The whole window passed unpaid: start the predicted spread today (see pay_probability_by).
    stale = _cdf_array(knots_x, now[:, None])[:, 0] >= 1.0
    knots_x = np.where(stale[:, None], knots_x + (now - knots_x[:, 1])[:, None], knots_x)
    already = _cdf_array(knots_x, now[:, None])
    week_ends = np.array([7 * w + 6 for w in range(weeks)], dtype=float)
    by_end = _cdf_array(knots_x, now[:, None] + week_ends[None, :])
    return np.asarray(np.maximum(0.0, (by_end - already) / (1.0 - already)))


_KNOT_Y = (0.0, 0.1, 0.5, 0.9, 1.0)


def _cdf_array(knots_x: FloatArray, x: FloatArray) -> FloatArray:
    """``_cdf`` for each row's knots (rows of ``knots_x``) at each of that row's ``x`` (columns)."""
    out = np.ones(np.broadcast_shapes(knots_x[:, :1].shape, x.shape))
    # The scalar walk answers from the first segment whose right end reaches x: fill from the last
    # segment back so that the first one wins.
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(len(_KNOT_Y) - 2, -1, -1):
            x0, x1 = knots_x[:, k:k + 1], knots_x[:, k + 1:k + 2]
            y0, y1 = _KNOT_Y[k], _KNOT_Y[k + 1]
            share = np.where(x1 > x0, (x - x0) / (x1 - x0), 1.0)
            out = np.where(x <= x1, y0 + (y1 - y0) * share, out)
    return np.where(x <= knots_x[:, :1], 0.0, out)


def _group_index(groups: list[str]) -> IntArray:
    """Each item's group as 0, 1, ... in order of first appearance (the order the sums run in)."""
    seen: dict[str, int] = {}
    return np.array([seen.setdefault(g, len(seen)) for g in groups], dtype=np.intp)


def _ordered_sum(values: FloatArray) -> float:
    """``sum(values)`` added left to right, as a Python loop would (numpy's own sum pairs terms up and can
    land a last bit apart, which could move a figure by a cent at a half-cent)."""
    return float(np.cumsum(values)[-1]) if len(values) else 0.0


def _variance(sds: FloatArray, groups: IntArray, n_groups: int, rho: float) -> float:
    """Variance of a sum whose terms have standard deviations ``sds``, correlated ``rho`` within a group and
    independent across groups: sum of sd^2 + rho x sum over pairs i != j of one group of sd_i sd_j, i.e.
    (1 - rho) sum sd^2 + rho sum over groups (group's sum of sd)^2."""
    by_group = np.zeros(n_groups)
    np.add.at(by_group, groups, sds)  # unbuffered, in item order: each group's sum as the loop added it
    return (1.0 - rho) * _ordered_sum(sds * sds) + rho * _ordered_sum(by_group * by_group)


def _money(x: float) -> Decimal:
    return Decimal(str(x)).quantize(CENT, ROUND_HALF_UP)
