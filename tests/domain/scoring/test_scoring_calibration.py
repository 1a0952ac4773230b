"""Probability recalibration, conformal intervals and evaluation metrics."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from addon.domain.scoring.calibration import (
    IntervalCalibrator,
    ProbabilityCalibrator,
    conformal_offset,
    fit_interval_calibrator,
    fit_probability_calibrator,
    interval_offsets,
    whole_day_p50,
)
from addon.domain.scoring.metrics import (
    band_probability,
    bootstrap_interval,
    calibrated_ece_floor,
    day_metrics,
    expected_calibration_error,
    fast_auc,
    paired_bootstrap_auc,
    probability_metrics,
)


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.05, 0.95, n)
    y = (rng.uniform(size=n) < truth).astype(float)
    raw = 1 / (1 + np.exp(-3 * np.log(truth / (1 - truth))))  # pushed towards 0 and 1
    return raw, y


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_recalibration_fixes_an_overconfident_model(method: str) -> None:
    raw, y = _overconfident(3000, 1)
    test_raw, test_y = _overconfident(3000, 2)
    cal = fit_probability_calibrator(raw, y, method)
    assert cal.method == method
    before = expected_calibration_error(test_raw, test_y)
    after = expected_calibration_error(cal.apply(test_raw), test_y)
    assert before > 0.08
    assert after < 0.04
    again = ProbabilityCalibrator.from_json(cal.to_json())
    np.testing.assert_allclose(again.apply(test_raw), cal.apply(test_raw))


def test_calibrated_probabilities_never_reach_certainty() -> None:
    cal = fit_probability_calibrator(np.array([0.0, 0.1, 0.9, 1.0] * 100), np.array([0, 0, 1, 1.0] * 100))
    out = cal.apply(np.array([0.0, 1.0]))
    assert 0 < out[0] < 0.01
    assert 0.99 < out[1] < 1


def test_too_little_data_leaves_probabilities_alone() -> None:
    cal = fit_probability_calibrator(np.array([0.2, 0.7]), np.array([0.0, 1.0]))
    assert cal.method == "identity"


def test_conformal_interval_reaches_nominal_coverage() -> None:
    rng = np.random.default_rng(0)
    # a quantile model whose interval is far too narrow (covers ~38%)
    actual = rng.normal(0, 10, 4000)
    q10, q90 = np.full(4000, -5.0), np.full(4000, 5.0)
    overdue = rng.uniform(size=4000) < 0.3
    cal = fit_interval_calibrator(q10[:2000], q90[:2000], actual[:2000], overdue[:2000])
    lo, hi = cal.apply(q10[2000:], q90[2000:], overdue[2000:])
    coverage = np.mean((lo <= actual[2000:]) & (actual[2000:] <= hi))
    assert 0.77 <= coverage <= 0.83
    assert IntervalCalibrator.from_json(cal.to_json()) == cal


def _two_kinds_of_customer(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Steady (spread 2 days) and erratic (spread 20 days) payers; raw intervals 40% too narrow for both."""
    rng = np.random.default_rng(seed)
    erratic = rng.uniform(size=n) < 0.3
    spread = np.where(erratic, 20.0, 2.0)
    actual = rng.normal(0, spread)
    half = 0.6 * 1.2816 * spread  # 60% of the true 10%-90% half-width
    return -half, half, actual, erratic


def test_scaled_offsets_cover_steady_and_erratic_customers_alike() -> None:
    q10, q90, actual, _ = _two_kinds_of_customer(6000, 1)
    cal = fit_interval_calibrator(q10, q90, actual, np.zeros(6000, dtype=bool))
    assert cal.scaled
    t10, t90, t_actual, t_erratic = _two_kinds_of_customer(6000, 2)
    lo, hi = cal.apply(t10, t90, np.zeros(6000, dtype=bool))
    inside = (lo <= t_actual) & (t_actual <= hi)
    for group in (t_erratic, ~t_erratic):
        assert 0.77 <= inside[group].mean() <= 0.83
    # the additive rule on the same rows: the erratic customers' misses set one offset for everybody
    lower, upper = interval_offsets(q10, q90, actual, scaled=False)
    assert (lower, upper) == (conformal_offset(q10 - actual, 0.9), conformal_offset(actual - q90, 0.9))
    additive = IntervalCalibrator(lower=(lower, 0.0), upper=(upper, 0.0))
    lo, hi = additive.apply(t10, t90, np.zeros(6000, dtype=bool))
    inside = (lo <= t_actual) & (t_actual <= hi)
    assert 0.77 <= inside.mean() <= 0.83  # right on average ...
    assert inside[~t_erratic].mean() > 0.85  # ... wrong for each kind
    assert inside[t_erratic].mean() < 0.7


def test_interval_calibrators_from_before_scaling_stay_additive() -> None:
    old = IntervalCalibrator.from_json({"lower": [3.0, 1.0], "upper": [5.0, 2.0], "alpha": 0.2})
    assert not old.scaled
    lo, hi = old.apply(np.array([-4.0]), np.array([6.0]), np.array([False]))
    assert (lo[0], hi[0]) == (-7.0, 11.0)
    scaled = IntervalCalibrator((0.5, 0.0), (0.25, 0.0), 0.2, scaled=True)
    assert IntervalCalibrator.from_json(scaled.to_json()) == scaled
    lo, hi = scaled.apply(np.array([-4.0, 0.0]), np.array([6.0, 1.0]), np.array([False, False]))
    np.testing.assert_allclose(lo, [-4.0 - 0.5 * 10, 0.0 - 0.5 * 2])  # a 1-day interval counts as the 2-day floor
    np.testing.assert_allclose(hi, [6.0 + 0.25 * 10, 1.0 + 0.25 * 2])


def test_whole_day_p50_rounds_the_median_and_leaves_the_interval_alone() -> None:
    q = np.array([[-3.4, 2.5, 9.9], [3.01, 3.6, 20.0], [4.2, 4.4, 4.8], [-0.6, 1.49, 7.0]])
    np.testing.assert_array_equal(whole_day_p50(q), [[-3.4, 2, 9.9], [3.01, 4, 20.0], [4, 4, 4.8], [-0.6, 1, 7.0]])


def test_a_whole_day_p50_lands_within_5_days_of_whole_day_outcomes_more_often() -> None:
    rng = np.random.default_rng(5)
    mid = rng.normal(10, 8, 5000)
    q = np.column_stack([mid - rng.uniform(1, 15, 5000), mid, mid + rng.uniform(1, 15, 5000)])
    actual = np.round(mid + rng.normal(0, 6, 5000))  # payment days are whole days
    whole = whole_day_p50(q)
    np.testing.assert_array_equal(whole[:, [0, 2]], q[:, [0, 2]])
    # Within 5 days counts 11 whole days around a whole-day p50, 10 around a fractional one...
    assert (np.abs(whole[:, 1] - actual) <= 5).mean() > (np.abs(q[:, 1] - actual) <= 5).mean() + 0.03
    # ... and the absolute error does not grow (it is linear between whole days).
    assert np.abs(whole[:, 1] - actual).mean() < np.abs(q[:, 1] - actual).mean() + 0.02


def test_conformal_offset_needs_enough_scores() -> None:
    assert conformal_offset(np.array([1.0, 2.0]), 0.9) == 0.0
    assert conformal_offset(np.arange(100.0), 0.9) == pytest.approx(90.0)


def test_ece_of_known_bins() -> None:
    p = np.array([0.1, 0.1, 0.9, 0.9])
    y = np.array([0.0, 0.0, 1.0, 0.0])
    # bin 0.1: |0.1-0| ; bin 0.9: |0.9-0.5| ; weighted equally
    assert expected_calibration_error(p, y) == pytest.approx((0.1 * 2 + 0.4 * 2) / 4)


def test_fast_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(4)
    y = (rng.uniform(size=300) < 0.4).astype(float)
    p = np.round(rng.uniform(size=300), 1)  # many ties
    assert fast_auc(y, p) == pytest.approx(roc_auc_score(y, p))


def test_paired_bootstrap_separates_a_better_scorer() -> None:
    rng = np.random.default_rng(5)
    y = (rng.uniform(size=600) < 0.5).astype(float)
    good = y + rng.normal(0, 0.5, 600)
    weak = y + rng.normal(0, 2.0, 600)
    diff, lo, hi = paired_bootstrap_auc(y, good, weak, rounds=300)
    assert lo <= diff <= hi
    assert lo > 0
    _, lo_same, hi_same = paired_bootstrap_auc(y, good, good, rounds=50)
    assert lo_same == hi_same == 0


def test_day_metrics() -> None:
    actual = np.array([0.0, 10.0, 20.0, -3.0])
    m = day_metrics(np.array([-5, 0, 0, 0.0]), np.array([0, 4, 20, 5.0]), np.array([5, 12, 15, 9.0]), actual)
    assert m == {"mae_days": pytest.approx((0 + 6 + 0 + 8) / 4), "within_5d": 0.5, "coverage_80": 0.5,
                 "width_80": pytest.approx((10 + 12 + 15 + 9) / 4)}


def test_probability_metrics_with_one_class_are_undefined_not_crashing() -> None:
    m = probability_metrics(np.array([0.2, 0.3]), np.array([1.0, 1.0]))
    assert np.isnan(m["roc_auc"])
    assert m["brier"] == pytest.approx((0.64 + 0.49) / 2)


def test_bootstrap_interval_brackets_the_statistic_and_narrows_with_more_rows() -> None:
    rng = np.random.default_rng(3)
    small, large = rng.normal(2.0, 1.0, 100), rng.normal(2.0, 1.0, 2500)
    lo_s, hi_s = bootstrap_interval(lambda idx: float(small[idx].mean()), len(small))
    lo_l, hi_l = bootstrap_interval(lambda idx: float(large[idx].mean()), len(large))
    assert lo_s < small.mean() < hi_s
    assert lo_l < large.mean() < hi_l
    # the standard error shrinks like 1/sqrt(n): 25x the rows gives about a fifth of the width
    assert 0.1 < (hi_l - lo_l) / (hi_s - lo_s) < 0.35
    assert all(np.isnan(bootstrap_interval(lambda idx: 0.0, 0)))  # no rows, no interval


def test_calibrated_ece_floor_shrinks_with_the_test_set_and_matches_simulation() -> None:
    rng = np.random.default_rng(5)
    small, large = rng.uniform(0.0, 0.6, 650), rng.uniform(0.0, 0.6, 5000)
    floor_small, floor_large = calibrated_ece_floor(small), calibrated_ece_floor(large)
    # sampling noise scales like 1/sqrt(n): about 0.03 at 650 labelled invoices, about 0.01 at 5,000
    assert 0.02 < floor_small < 0.04
    assert 0.006 < floor_large < 0.015
    assert floor_large / floor_small == pytest.approx((650 / 5000) ** 0.5, rel=0.25)
    # an independent draw of perfectly calibrated outcomes lands near the floor, not near zero
    y = (rng.uniform(size=len(small)) < small).astype(float)
    assert expected_calibration_error(small, y) > floor_small / 3
    assert np.isnan(calibrated_ece_floor(np.array([])))


def test_band_probability_is_the_binomial_chance_of_landing_inside() -> None:
    # 100 outcomes: 78..82 hits out of 100 at p=0.8
    from scipy.stats import binom
    assert band_probability(100, 0.8, 0.78, 0.82) == pytest.approx(
        sum(binom.pmf(k, 100, 0.8) for k in range(78, 83)))
    assert band_probability(600, 0.8, 0.78, 0.82) < 0.85 < band_probability(4500, 0.8, 0.78, 0.82)
    assert band_probability(4500, 0.8, 0.78, 0.82) > 0.99
    assert np.isnan(band_probability(0, 0.8, 0.78, 0.82))
