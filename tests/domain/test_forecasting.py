"""The cash-in forecast's edge cases: quantiles out of order, scores gone stale, bad amounts, and the
cumulative band (docs/forecasting.md)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from addon.domain.forecasting import OpenAmount, forecast_cash, pay_probability_by

TODAY = date(2026, 11, 23)
D = Decimal


def test_quantiles_out_of_order_are_read_as_their_sorted_triple() -> None:
    # The dashboard can pair a stored p50 with default p10/p90 (when those are missing): p50 40 days with
    # the default p90 of 30 made knots that go backwards, and the CDF jumped from 0.45 to 1 at day 40.
    mixed = OpenAmount("i", D("1000.00"), TODAY, p10_days=-3, p50_days=40, p90_days=30)
    ordered = OpenAmount("i", D("1000.00"), TODAY, p10_days=-3, p50_days=30, p90_days=40)
    days = [TODAY + timedelta(days=d) for d in range(0, 60)]
    assert [pay_probability_by(mixed, d, TODAY) for d in days] == [pay_probability_by(ordered, d, TODAY) for d in days]


def test_an_invoice_past_its_whole_predicted_window_is_not_all_expected_in_week_one() -> None:
    # Scored (or defaulted) for payment 0-20 days after due; it is now 60 days overdue and still unpaid.
    # Its window has passed, which says it is later than predicted, not that it is certain this week:
    # the forecast keeps the predicted spread, starting from today.
    item = OpenAmount("i", D("1000.00"), TODAY - timedelta(days=60), p10_days=0, p50_days=7, p90_days=20)
    weeks = forecast_cash([item], TODAY, weeks=6)
    assert weeks[0].expected < D("500.00")
    assert weeks[1].expected > 0
    assert weeks[2].expected > 0
    assert sum(w.expected for w in weeks) == D("1000.00")


@pytest.mark.parametrize("amount", ["0", "-10.00", "NaN"])
def test_an_amount_that_is_not_money_due_is_refused(amount: str) -> None:
    with pytest.raises(ValueError, match="amount_due"):
        OpenAmount("i", D(amount), TODAY, 0, 5, 10)


def test_cumulative_band_is_wider_than_any_week_and_ends_near_the_total() -> None:
    items = [OpenAmount(f"i{n}", D("1000.00"), TODAY + timedelta(days=n), -3, 7, 21) for n in range(10)]
    weeks = forecast_cash(items, TODAY, weeks=8)
    cum = D("0")
    for w in weeks:
        cum += w.expected
        assert w.cumulative_low <= w.cumulative_expected <= w.cumulative_high
        assert abs(w.cumulative_expected - cum) <= D("0.05")
    assert weeks[-1].cumulative_high == D("10000.00")  # everything has been paid by then in every outcome
    assert weeks[1].cumulative_high - weeks[1].cumulative_low > weeks[1].high - weeks[1].low


def test_one_customers_invoices_widen_the_running_total_band_but_not_the_weekly_one() -> None:
    def items(customers: list[str]) -> list[OpenAmount]:
        return [OpenAmount(f"i{n}", D("1000.00"), TODAY + timedelta(days=7), 0, 7, 21, customer_id=c)
                for n, c in enumerate(customers)]
    together = forecast_cash(items(["A"] * 4), TODAY, weeks=4)
    apart = forecast_cash(items(["A", "B", "C", "D"]), TODAY, weeks=4)
    unknown = forecast_cash(items(["", "", "", ""]), TODAY, weeks=4)  # no customer: each invoice alone
    w = 1
    assert together[w].cumulative_high - together[w].cumulative_low > apart[w].cumulative_high - apart[w].cumulative_low
    assert unknown[w].cumulative_low == apart[w].cumulative_low
    assert unknown[w].cumulative_high == apart[w].cumulative_high
    assert [(x.low, x.high) for x in together] == [(x.low, x.high) for x in apart]
    with pytest.raises(ValueError, match="customer_correlation"):
        forecast_cash(items(["A"]), TODAY, customer_correlation=1.5)
