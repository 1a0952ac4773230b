"""The provision matrix of bad debt and its effect on the cash-in forecast (docs/forecasting.md, "Write-offs")."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from addon.domain.forecasting import OpenAmount, forecast_cash
from addon.domain.write_offs import (
    BASE_RATE,
    PRIOR_STRENGTH,
    Outcome,
    PastInvoice,
    allowance,
    bucket_of,
    outcome,
    provision_matrix,
    rate_for,
)

TODAY = date(2026, 11, 23)
OLD_DUE = TODAY - timedelta(days=400)  # mature: its outcome is known
D = Decimal


def _day(days_past_due: int, due: date = OLD_DUE) -> date:
    return due + timedelta(days=days_past_due)


def paid(n: int, days_late: int, due: date = OLD_DUE) -> PastInvoice:
    return PastInvoice(f"p{n}", due, "paid", payment_dates=(_day(days_late, due),))


def voided(n: int, days_late: int, due: date = OLD_DUE) -> PastInvoice:
    return PastInvoice(f"v{n}", due, "voided", closed_on=_day(days_late, due))


def test_a_void_or_full_credit_after_the_due_date_is_a_write_off() -> None:
    assert outcome(voided(1, 120)) == Outcome(120, True)
    assert outcome(PastInvoice("d", OLD_DUE, "deleted", closed_on=_day(95))) == Outcome(95, True)
    credited = PastInvoice("c", OLD_DUE, "paid", payment_dates=(_day(10),), credit_dates=(_day(150),))
    assert outcome(credited) == Outcome(150, True)


def test_a_credit_or_void_by_the_due_date_is_a_correction_not_history() -> None:
    # A pricing correction or a cancelled sale: neither cash collected nor a debt gone bad.
    assert outcome(PastInvoice("c", OLD_DUE, "paid", credit_dates=(_day(-5),))) is None
    assert outcome(PastInvoice("c", OLD_DUE, "paid", credit_dates=(_day(0),))) is None
    assert outcome(voided(1, 0)) is None


def test_closed_by_payment_is_collected_even_with_a_credit_note_the_same_day_or_before() -> None:
    short_paid = PastInvoice("s", OLD_DUE, "paid", payment_dates=(_day(40),), credit_dates=(_day(35),))
    assert outcome(short_paid) == outcome(paid(1, 40))
    same_day = PastInvoice("s", OLD_DUE, "paid", payment_dates=(_day(40),), credit_dates=(_day(40),))
    assert outcome(same_day) == Outcome(40, False)
    no_rows = PastInvoice("n", OLD_DUE, "paid", closed_on=_day(12))  # the mirror lacks its payment rows
    assert outcome(no_rows) == outcome(paid(1, 12))


def test_open_and_undated_invoices_are_not_history() -> None:
    assert outcome(PastInvoice("o", OLD_DUE, "open")) is None
    assert outcome(PastInvoice("v", OLD_DUE, "voided")) is None
    assert outcome(PastInvoice("p", OLD_DUE, "paid")) is None


@pytest.mark.parametrize(("days", "bucket"), [(-10, "current"), (0, "current"), (1, "1-30"), (30, "1-30"),
                                              (31, "31-60"), (61, "61-90"), (90, "61-90"), (91, "91-180"),
                                              (180, "91-180"), (181, "180+")])
def test_buckets(days: int, bucket: str) -> None:
    assert bucket_of(days) == bucket


def test_matrix_counts_invoices_still_unpaid_at_each_bucket_and_smooths_towards_the_younger_bucket() -> None:
    # 80 paid around the due date, 10 paid 40 days late, 10 written off 120 days past due.
    history = ([paid(n, n % 10 - 5) for n in range(80)] + [paid(100 + n, 40) for n in range(10)]
               + [voided(200 + n, 120) for n in range(10)])
    rows = {r.bucket: r for r in provision_matrix(history, TODAY)}
    assert (rows["current"].unpaid, rows["current"].written_off) == (100, 10)
    assert (rows["31-60"].unpaid, rows["31-60"].written_off) == (20, 10)
    assert (rows["91-180"].unpaid, rows["91-180"].written_off) == (10, 10)
    assert (rows["180+"].unpaid, rows["180+"].written_off) == (0, 0)
    k = PRIOR_STRENGTH
    current = (10 + k * BASE_RATE) / (100 + k)
    assert rows["current"].rate == D(str(current)).quantize(D("0.0001"))
    # Each bucket's prior mean is the younger bucket's rate; the rates rise with age.
    rates = [r.rate for r in provision_matrix(history, TODAY)]
    assert rates == sorted(rates)
    assert D("0.4") < rows["91-180"].rate < D("1")  # 10 of 10, shrunk towards 31-60's 1 in 2
    assert rows["180+"].rate == rows["91-180"].rate  # no evidence: the younger bucket's rate


def test_without_history_every_bucket_has_the_prior_rate() -> None:
    # The default prior: nothing written off yet, nothing expected to be.
    assert {r.rate for r in provision_matrix([], TODAY)} == {D("0")}
    assert {r.rate for r in provision_matrix([], TODAY, base_rate=0.02)} == {D("0.0200")}


def test_recent_invoices_are_left_out_until_their_outcome_is_known() -> None:
    # Due 30 days ago and paid: its unpaid siblings of the same month are still open (left out), so
    # counting the early payers alone would make the young cohort look safe.
    recent = [paid(n, 2, due=TODAY - timedelta(days=30)) for n in range(50)]
    assert provision_matrix(recent, TODAY)[0].unpaid == 0


def test_matrix_refuses_a_bad_prior() -> None:
    with pytest.raises(ValueError, match="prior_strength"):
        provision_matrix([], TODAY, prior_strength=0)
    with pytest.raises(ValueError, match="base_rate"):
        provision_matrix([], TODAY, base_rate=1.5)


def test_allowance_per_bucket_is_balance_times_rate() -> None:
    history = [paid(n, 0) for n in range(90)] + [voided(100 + n, 100) for n in range(10)]
    matrix = provision_matrix(history, TODAY)
    items = [(D("1000.00"), TODAY + timedelta(days=5)), (D("200.00"), TODAY - timedelta(days=100)),
             (D("300.00"), TODAY - timedelta(days=120))]
    rows = {r.bucket: r for r in allowance(items, matrix, TODAY)}
    old = rate_for(matrix, 100)
    assert (rows["91-180"].invoices, rows["91-180"].balance) == (2, D("500.00"))
    assert rows["91-180"].allowance == (D("200.00") * old).quantize(D("0.01")) + (D("300.00") * old).quantize(D("0.01"))
    assert rows["current"].allowance == (D("1000.00") * rate_for(matrix, -5)).quantize(D("0.01"))
    assert (rows["1-30"].invoices, rows["1-30"].allowance) == (0, D("0"))


def test_forecast_expects_only_the_collectable_share_and_widens_the_band() -> None:
    due = TODAY + timedelta(days=7)
    sure = OpenAmount("i", D("1000.00"), due, 0, 3, 10)
    doubtful = OpenAmount("i", D("1000.00"), due, 0, 3, 10, p_never=0.3)
    full, reduced = forecast_cash([sure], TODAY, weeks=6), forecast_cash([doubtful], TODAY, weeks=6)
    assert full[-1].cumulative_expected == D("1000.00")
    assert reduced[-1].cumulative_expected == D("700.00")
    # The whole amount was certain to arrive by week 6; now it may never come: the band opens to 0.
    assert full[-1].cumulative_low == D("1000.00")
    assert reduced[-1].cumulative_low < D("700.00") < reduced[-1].cumulative_high <= D("1000.00")


def test_a_certain_write_off_forecasts_nothing() -> None:
    gone = OpenAmount("i", D("500.00"), TODAY - timedelta(days=200), -3, 5, 30, p_never=1.0)
    assert all(w.expected == 0 and w.high == 0 for w in forecast_cash([gone], TODAY, weeks=13))


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_a_write_off_probability_that_is_not_one_is_refused(p: float) -> None:
    with pytest.raises(ValueError, match="p_never"):
        OpenAmount("i", D("10.00"), TODAY, 0, 1, 2, p_never=p)
