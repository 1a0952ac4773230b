"""The forecast of a big tenant is computed per week over arrays, not per invoice in Python, and gives the
very Decimals the per-invoice loop gave (tests/domain/forecast_reference.py keeps that loop as the oracle)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from addon.domain.forecasting import OpenAmount, forecast_cash, pay_probability_by
from tests.domain.forecast_reference import reference_forecast_cash

TODAY = date(2026, 12, 7)


def _items(n: int, seed: int, customers: int = 50) -> list[OpenAmount]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        # Every shape the knots can take: ties (p10 == p50 == p90), out of order, long overdue windows
        # (shifted to start today), windows still ahead, due far in the past and in the future.
        p = sorted(rng.randint(-40, 90) for _ in range(3)) if rng.random() < 0.9 else [rng.randint(-5, 5)] * 3
        if rng.random() < 0.1:
            p = [p[2], p[0], p[1]]
        out.append(OpenAmount(f"I{i}", Decimal(rng.randint(1, 10_000_000)) / 100,
                              TODAY + timedelta(days=rng.randint(-500, 120)), *p,
                              customer_id=f"C{rng.randrange(customers)}" if rng.random() < 0.8 else "",
                              # Some may be written off (the provision matrix's rate for their age).
                              p_never=rng.choice([0.0, 0.0, 0.02, 0.15, 0.6])))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("correlation", [0.0, 0.1, 1.0])
def test_the_weeks_are_the_same_decimals_as_the_per_invoice_loop(seed: int, correlation: float) -> None:
    items = _items(400, seed)
    weeks = 7 + seed * 3
    assert forecast_cash(items, TODAY, weeks=weeks, customer_correlation=correlation) == reference_forecast_cash(
        items, TODAY, weeks=weeks, customer_correlation=correlation)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_tiny_ledgers_too(n: int) -> None:
    items = _items(n, 9)
    assert forecast_cash(items, TODAY) == reference_forecast_cash(items, TODAY)


def test_one_invoice_s_probability_is_still_what_pay_probability_by_says() -> None:
    [item] = _items(1, 5)
    [week] = forecast_cash([item], TODAY, weeks=1)
    assert week.cumulative_expected == (Decimal(str(float(item.amount_due) * pay_probability_by(
        item, TODAY + timedelta(days=6), TODAY)))).quantize(Decimal("0.01"), ROUND_HALF_UP)
