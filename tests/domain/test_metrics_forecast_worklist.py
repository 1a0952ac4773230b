from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from addon.domain.forecasting import OpenAmount, forecast_cash, pay_probability_by
from addon.domain.metrics import Receivable, aging, cei, dso
from addon.domain.worklist import WorkItem, prioritise

TODAY = date(2026, 11, 23)
D = Decimal


def r(issue_days_ago: int, due_days_ago: int, total: str, *settled: tuple[int, str]) -> Receivable:
    return Receivable(f"i{issue_days_ago}-{total}", TODAY - timedelta(days=issue_days_ago),
                      TODAY - timedelta(days=due_days_ago), D(total),
                      tuple((TODAY - timedelta(days=ago), D(a)) for ago, a in settled))


@pytest.mark.parametrize(("days_overdue", "bucket"), [(-5, "current"), (0, "current"), (1, "1-30"), (30, "1-30"),
                                                      (31, "31-60"), (75, "61-90"), (91, "90+"), (400, "90+")])
def test_aging_bucket_boundaries(days_overdue: int, bucket: str) -> None:
    result = aging([r(days_overdue + 30, days_overdue, "100.00")], TODAY)
    assert result[bucket] == D("100.00")
    assert sum(result.values()) == D("100.00")


def test_aging_uses_balance_on_the_day_including_partial_payments() -> None:
    rec = r(40, 10, "100.00", (5, "30.00"), (-3, "70.00"))  # second payment is in the future
    assert aging([rec], TODAY)["1-30"] == D("70.00")
    assert aging([rec], TODAY + timedelta(days=3))["1-30"] == D("0")


def test_dso_is_receivables_over_daily_sales() -> None:
    # 90 days of sales: 900; outstanding now: 300 -> 300 / 900 * 90 = 30 days
    recs = [r(80, 50, "300.00", (40, "300.00")), r(60, 30, "300.00", (20, "300.00")), r(10, -20, "300.00")]
    assert dso(recs, TODAY, 90) == D("30.0")
    assert dso([], TODAY) is None


def test_cei_is_100_when_everything_collectable_was_collected() -> None:
    recs = [r(40, 10, "100.00", (5, "100.00")), r(5, -25, "50.00")]  # the second is not yet due
    assert cei(recs, TODAY, 30) == D("100.0")


def test_cei_drops_when_overdue_money_stays_out() -> None:
    recs = [r(40, 10, "100.00"), r(20, 5, "100.00", (2, "100.00"))]
    # begin 100 + sales 100 - end 100 = 100 collected, of begin+sales-end current (200) -> 50%
    assert cei(recs, TODAY, 30) == D("50.0")


def test_payment_probability_is_monotone_and_conditional_on_unpaid_today() -> None:
    # Due in 2 days, so today sits exactly at the p10 quantile (2 days before due).
    item = OpenAmount("i", D("100"), TODAY + timedelta(days=2), p10_days=-2, p50_days=5, p90_days=20)
    probs = [pay_probability_by(item, TODAY + timedelta(days=d), TODAY) for d in range(-5, 40)]
    assert probs == sorted(probs)
    assert probs[-1] == pytest.approx(1.0)
    assert pay_probability_by(item, TODAY + timedelta(days=7), TODAY) == pytest.approx((0.5 - 0.1) / 0.9)


def test_forecast_spreads_each_invoice_and_conserves_money() -> None:
    items = [OpenAmount(f"i{n}", D("1000.00"), TODAY + timedelta(days=n), -3, 7, 21) for n in range(10)]
    weeks = forecast_cash(items, TODAY, weeks=20)
    total = sum(w.expected for w in weeks)
    assert abs(total - D("10000.00")) < D("1.00")
    assert all(w.low <= w.expected <= w.high for w in weeks)
    peak = max(weeks, key=lambda w: w.expected)
    assert TODAY <= peak.week_start <= TODAY + timedelta(days=21)


def test_worklist_puts_money_at_risk_first_with_reasons() -> None:
    items = [WorkItem("small", "A", "1", D("100"), TODAY - timedelta(days=40), p_late=0.9),
             WorkItem("big-risky", "B", "2", D("9000"), TODAY - timedelta(days=10), p_late=0.8),
             WorkItem("big-safe", "C", "3", D("9000"), TODAY + timedelta(days=10), p_late=0.05),
             WorkItem("promise", "D", "4", D("3000"), TODAY - timedelta(days=5), p_late=0.5,
                      promised_on=TODAY - timedelta(days=1))]
    ranked = prioritise(items, TODAY)
    assert [p.item.invoice_id for p in ranked][:2] == ["big-risky", "promise"]
    assert "broken" in ranked[1].why
    assert ranked[-1].item.invoice_id in ("small", "big-safe")


def test_credit_notes_reduce_credit_sales_not_count_as_collections() -> None:
    # A 300 sale cancelled in full by a credit note in the period is no sale: net credit sales are 600,
    # and nothing was collected on it.
    credited = Receivable("cn", TODAY - timedelta(days=20), TODAY + timedelta(days=10), D("300.00"),
                          credits=((TODAY - timedelta(days=5), D("300.00")),))
    recs = [r(80, 50, "300.00", (40, "300.00")), r(60, 30, "300.00"), credited]
    # AR 300 / net sales 600 x 90 days
    assert dso(recs, TODAY, 90) == D("45.0")
    # begin 300 + net sales 0 - end 300 = 0 collected, of 300 collectable (the open one is overdue)
    assert cei(recs, TODAY, 30) == D("0.0")
    assert aging(recs, TODAY)["1-30"] == D("300.00")
    assert aging(recs, TODAY)["current"] == D("0")
