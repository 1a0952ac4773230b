"""The scoring-time adjustment: the customer's recent miss and the newest window's conformal offsets."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest

from addon.domain.scoring.calibration import conformal_offset
from addon.domain.scoring.evaluate import split_date
from addon.domain.scoring.features import FeatureBuilder
from addon.domain.scoring.history import HistoryInvoice, as_seen_at
from addon.domain.scoring.model import RiskModel
from addon.domain.scoring.online import LATE_HORIZON_DAYS, LATE_INVOICES, MIN_WINDOW, RecentOutcomes, trend_floor
from addon.domain.scoring.train import TrainConfig, train_model
from addon.services.scoring_prior import generated_history
from connectors.sandbox.generator import generate_company

FAST = TrainConfig(classifier_rounds=30, quantile_rounds=30, nthread=1)


class ZeroModel:
    """Always predicts payment on the due date, with a 10-day interval either side, and two calibrated
    classifiers that say P(late) 0.2 and 0.4."""

    def raw_quantiles(self, values: np.ndarray) -> np.ndarray:
        return np.tile(np.array([-10.0, 0.0, 10.0]), (len(values), 1))

    def member_p_late(self, values: np.ndarray) -> np.ndarray:
        return np.tile(np.array([0.2, 0.4]), (len(values), 1))


def _days(*days: date) -> np.ndarray:
    return np.array([d.toordinal() for d in days], dtype=np.int64)


def test_a_customer_the_model_keeps_underestimating_is_followed(make_inv) -> None:  # type: ignore[no-untyped-def]
    history = [make_inv(f"A{n}", "late", issued=10 * n, paid=p) for n, p in enumerate((30, 32, 29, 31, 30))]
    history += [make_inv(f"B{n}", "noisy", issued=10 * n, paid=p) for n, p in enumerate((-10, 12, -8, 9))]
    history += [make_inv("C0", "once", issued=0, paid=40)]
    builder = FeatureBuilder(history)
    recent = RecentOutcomes(ZeroModel(), builder)
    day = max(i.paid_date for i in history if i.paid_date) + timedelta(days=1)
    codes = builder.snapshots([(history[0], day), (history[5], day), (history[-1], day)]).customer
    late, noisy, once = recent.shift(np.append(codes, -1), _days(day, day, day, day))[:3]
    assert 28 < late <= 31  # a steady miss of ~30 days is followed almost in full
    assert abs(noisy) < 1  # misses that scatter around zero are left alone
    assert once == 0  # one invoice says nothing about a trend
    assert recent.shift(np.array([-1]), _days(day))[0] == 0  # a customer with no history


def test_the_shift_reads_only_invoices_settled_before_the_scoring_day(make_inv) -> None:  # type: ignore[no-untyped-def]
    history = [make_inv(f"A{n}", "late", issued=10 * n, paid=30) for n in range(5)]
    builder = FeatureBuilder(history)
    recent = RecentOutcomes(ZeroModel(), builder)
    code = builder.snapshots([(history[0], date.today())]).customer
    settled = sorted(i.paid_date for i in history if i.paid_date)
    # On the day the second invoice is paid only the first is known: one invoice, no shift.
    assert recent.shift(code, _days(settled[1]))[0] == 0
    assert recent.shift(code, _days(settled[1] + timedelta(days=1)))[0] > 25


def _late_step(lates: int, n: int, p: float) -> float:
    """The documented correction by hand: one Newton step, shrunk by t^2 / (t^2 + 8), capped at 2."""
    score, information = lates - n * p, n * p * (1 - p)
    t2 = score * score / information
    return float(np.clip(score / information * t2 / (t2 + 8.0), -2.0, 2.0))


def test_each_classifier_is_corrected_by_the_customers_recent_lateness(make_inv) -> None:  # type: ignore[no-untyped-def]
    # A: 10 invoices, all paid late. B: 3 of 10 late, as the first classifier (P 0.2-0.4) roughly expects.
    history = [make_inv(f"A{n}", "late", issued=5 * n, paid=12) for n in range(10)]
    history += [make_inv(f"B{n}", "fair", issued=5 * n, paid=5 if n % 3 == 0 and n < 9 else -2) for n in range(10)]
    history += [make_inv("C0", "once", issued=0, paid=20)]
    builder = FeatureBuilder(history)
    recent = RecentOutcomes(ZeroModel(), builder)
    day = max(i.due_date for i in history) + timedelta(days=10)
    codes = builder.snapshots([(history[0], day), (history[10], day), (history[-1], day)]).customer
    shift = recent.late_shift(np.append(codes, -1), _days(day, day, day, day))
    assert shift.shape == (4, 2)  # one correction per classifier
    assert shift[0].tolist() == pytest.approx([_late_step(10, 10, 0.2), _late_step(10, 10, 0.4)], abs=1e-5)
    assert shift[0, 0] == 2.0  # capped
    assert 1.0 < shift[0, 1] < 2.0
    assert shift[1].tolist() == pytest.approx([_late_step(3, 10, 0.2), _late_step(3, 10, 0.4)], abs=1e-5)
    assert np.abs(shift[1]).max() < 0.1  # outcomes about as expected: left alone
    assert shift[2].tolist() == [0.0, 0.0]  # one invoice is not enough
    assert shift[3].tolist() == [0.0, 0.0]  # no customer
    # Scoring: a row already past due is late whatever the classifiers say, so it is not corrected.
    rows = np.array([codes[0], codes[0]])
    adjustment = recent.adjustment(rows, _days(day, day), past_due=np.array([5, -3]))
    assert adjustment.late_shift is not None
    assert adjustment.late_shift.tolist() == [[0.0, 0.0], shift[0].tolist()]


def test_lateness_counts_from_the_day_after_the_due_date_paid_or_not(make_inv) -> None:  # type: ignore[no-untyped-def]
    """On day t an invoice due before t is known to be on time (paid by its due date) or late (it was not),
    even if it is paid after t; one not yet due says nothing, even if it is already paid."""
    history = [make_inv(f"A{n}", "late", issued=10 * n, paid=60) for n in range(3)]  # paid long after t
    history += [make_inv("A9", "late", issued=25, terms=60, paid=-50)]  # paid early, due after t
    builder = FeatureBuilder(history)
    recent = RecentOutcomes(ZeroModel(), builder)
    code = builder.snapshots([(history[0], date.today())]).customer
    dues = sorted(i.due_date for i in history[:3])
    assert not recent.late_shift(code, _days(dues[1])).any()  # only the first is known
    after = recent.late_shift(code, _days(dues[2] + timedelta(days=1)))[0]
    assert after.tolist() == pytest.approx([_late_step(3, 3, 0.2), _late_step(3, 3, 0.4)], abs=1e-5)
    # The same history as seen on that day (later payments unknown) gives the same correction.
    seen = FeatureBuilder(as_seen_at(history, dues[2] + timedelta(days=1)))
    code = seen.snapshots([(history[0], date.today())]).customer
    assert RecentOutcomes(ZeroModel(), seen).late_shift(code, _days(dues[2] + timedelta(days=1)))[0].tolist() == \
        after.tolist()


def test_only_the_newest_invoices_count(make_inv) -> None:  # type: ignore[no-untyped-def]
    # All due within the horizon; the 64 due last were late, the 100 before them on time.
    old = [make_inv(f"A{n:03d}", "c", issued=n // 10, paid=-3) for n in range(100)]
    new = [make_inv(f"B{n:03d}", "c", issued=10 + n // 7, paid=9) for n in range(LATE_INVOICES)]
    builder = FeatureBuilder(old + new)
    recent = RecentOutcomes(ZeroModel(), builder)
    code = builder.snapshots([(old[0], date.today())]).customer
    day = max(i.due_date for i in new) + timedelta(days=1)
    assert recent.late_shift(code, _days(day))[0].tolist() == [2.0, 2.0]


def test_only_invoices_due_in_the_recent_horizon_count(make_inv) -> None:  # type: ignore[no-untyped-def]
    history = [make_inv(f"A{n}", "late", issued=n, paid=9) for n in range(10)]  # due on days 30-39
    builder = FeatureBuilder(history)
    recent = RecentOutcomes(ZeroModel(), builder)
    code = builder.snapshots([(history[0], date.today())]).customer
    last_due = max(i.due_date for i in history)
    ten = recent.late_shift(code, _days(last_due + timedelta(days=1)))[0]
    assert ten.tolist() == pytest.approx([_late_step(10, 10, 0.2), _late_step(10, 10, 0.4)], abs=1e-5)
    # Two still due within the horizon: a weaker step; none: no correction.
    two = recent.late_shift(code, _days(last_due + timedelta(days=LATE_HORIZON_DAYS - 1)))[0]
    assert two.tolist() == pytest.approx([_late_step(2, 2, 0.2), _late_step(2, 2, 0.4)], abs=1e-5)
    assert not recent.late_shift(code, _days(last_due + timedelta(days=LATE_HORIZON_DAYS + 1))).any()


def test_window_offsets_give_each_tail_a_tenth_of_the_misses() -> None:
    history = generated_history(seed=2, mix="balanced", customers=40, invoices=1500)
    builder = FeatureBuilder(history)
    recent = RecentOutcomes(ZeroModel(), builder)
    day = split_date(history, 0.25)
    calibration = recent.calibration(day.toordinal())
    assert calibration is not None
    # Recompute the window by hand: the newest quarter of invoices due 90+ days before the day.
    t = day.toordinal()
    eligible = sorted((i for i in history if i.due_date.toordinal() < t - 90), key=lambda i: i.issue_date,
                      reverse=True)
    window = eligible[:-(-len(eligible) // 4)]
    assert len(window) >= MIN_WINDOW
    at_issue = builder.snapshots([(i, i.issue_date) for i in window])
    shift = recent.shift(at_issue.customer, _days(*(i.issue_date for i in window)))
    # A lasting trend's p90 is issued lifted with its p50 (0 + shift) to the projection.
    lift = np.maximum(trend_floor(builder.matrix(at_issue).values) - shift, 0.0)
    assert (lift > 0).any()
    actual = np.array([((i.paid_date if i.paid_date and i.paid_date < day else day) - i.due_date).days
                       for i in window], dtype=float)
    assert calibration.lower == conformal_offset(-10 + shift - actual, 0.9)
    assert calibration.upper == conformal_offset(actual - 10 - shift - lift, 0.9)
    below = (-10 + shift - calibration.lower > actual).mean()
    above = (10 + shift + lift + calibration.upper < actual).mean()
    assert below <= 0.1
    assert above <= 0.1
    assert below + above > 0.15


def test_overdue_offsets_come_from_the_windows_overdue_snapshots() -> None:
    """Rows already past due take offsets measured on the same window's invoices seen at the checkpoints
    after their due date while still unpaid, as training sees them."""
    history = generated_history(seed=2, mix="distressed", customers=40, invoices=1500)
    builder = FeatureBuilder(history)
    recent = RecentOutcomes(ZeroModel(), builder)
    day = split_date(history, 0.25)
    t = day.toordinal()
    assert recent.calibration(t).overdue is None  # only computed when an overdue row asks for it
    calibration = recent.calibration(t, overdue=True)
    assert calibration is not None
    assert calibration.overdue is not None
    # The newest quarter of invoices due 45+ days before the day (a newer window than at issue's 90).
    eligible = sorted((i for i in history if i.due_date.toordinal() < t - 45), key=lambda i: i.issue_date,
                      reverse=True)
    window = eligible[:-(-len(eligible) // 4)]
    checkpoints = (7, 14, 30, 60, 90)
    seen = [(n, i, i.due_date + timedelta(days=k)) for n, k in enumerate(checkpoints) for i in window
            if i.due_date + timedelta(days=k) < day and not i.settled_before(i.due_date + timedelta(days=k))]
    stage = np.array([n for n, _, _ in seen])
    counts = np.bincount(stage, minlength=5)
    assert counts[0] >= 100  # the first checkpoints have their own offsets ...
    assert counts[-1] < 100  # ... the last pools the later ones (here: all of them too few: everything)
    codes = builder.snapshots([(i, d) for _, i, d in seen]).customer
    shift = recent.shift(codes, _days(*(d for _, _, d in seen)))
    actual = np.array([((i.paid_date if i.paid_date and i.paid_date < day else day) - i.due_date).days
                       for _, i, _ in seen], dtype=float)

    def offsets(use: np.ndarray) -> tuple[float, float]:
        return (conformal_offset((-10 + shift - actual)[use], 0.9), conformal_offset((actual - 10 - shift)[use], 0.9))

    expected = []
    for n in range(5):
        use = stage == n if counts[n] >= 100 else stage >= n if counts[n:].sum() >= 100 else stage >= 0
        expected.append(offsets(use))
    assert np.array(calibration.overdue) == pytest.approx(np.array(expected), abs=1e-9)
    # Still unpaid a week after the due date: p10 has to move up more than for the book seen at issue.
    assert calibration.overdue[0][0] < calibration.lower
    assert recent.stage(np.array([-3, 0, 1, 10, 11, 22, 23, 200])).tolist() == [-1, -1, 0, 0, 1, 1, 2, 4]


def test_a_small_book_keeps_the_trained_calibration(small_model, small_history) -> None:  # type: ignore[no-untyped-def]
    model, as_of = small_model
    builder = FeatureBuilder(small_history)
    adjustment = model.recent_outcomes(builder).adjustment(np.array([0]), _days(as_of))
    assert adjustment.calibrations == [None]
    assert adjustment.shift.tolist() == [0.0]


@pytest.fixture(scope="module")
def distressed() -> tuple[list[HistoryInvoice], RiskModel, date]:
    history = generated_history(seed=1, mix="distressed", customers=60, invoices=3000)
    cutoff = split_date(history, 0.25)
    return history, train_model(history, cutoff, FAST), cutoff


def test_the_adjustment_ignores_what_happens_after_the_scoring_day(distressed) -> None:  # type: ignore[no-untyped-def]
    history, model, cutoff = distressed
    day = cutoff + timedelta(days=60)

    def rewrite(inv: HistoryInvoice) -> HistoryInvoice:
        if inv.paid_date is not None and inv.paid_date >= day:
            return replace(inv, paid_date=inv.paid_date + timedelta(days=45))
        return inv

    probes = [i for i in history if i.issue_date == day] or [i for i in history if i.issue_date > day][:5]
    probes += [i for i in history if i.due_date < day - timedelta(days=10) and not i.settled_before(day)][:5]
    later = [replace(i, invoice_id=f"X{n}", issue_date=day + timedelta(days=3), due_date=day + timedelta(days=33),
                     paid_date=None) for n, i in enumerate(probes)]

    def adjust(h: list[HistoryInvoice]) -> tuple[list[float], list[object]]:
        builder = FeatureBuilder(h)
        snap = builder.snapshots([(p, day) for p in probes])
        a = model.recent_outcomes(builder).adjustment(snap.customer, snap.t, snap.t - snap.due)
        return a.shift.tolist(), a.calibrations

    base = adjust(history)
    assert base[1][0] is not None
    assert base[1][0].overdue is not None  # the overdue probes asked for overdue offsets
    assert base == adjust([rewrite(i) for i in history] + later)
    # ... and the check can fail: an outcome known before the day does change it.
    earlier = [replace(i, paid_date=i.paid_date + timedelta(days=20))
               if i.paid_date is not None and cutoff - timedelta(days=200) <= i.paid_date < day - timedelta(days=25)
               else i for i in history]
    assert base != adjust(earlier)


def test_the_adjustment_follows_deteriorating_customers(distressed) -> None:  # type: ignore[no-untyped-def]
    """On held-out invoices, the adjusted interval covers the customers who drift out of the training range."""
    history, model, cutoff = distressed
    builder = FeatureBuilder(history)
    test = [i for i in history if i.issue_date >= cutoff and i.paid_date is not None]
    snaps = [(i, i.issue_date) for i in test]
    snap = builder.snapshots(snaps)
    features = builder.matrix(snap)
    adjustment = model.recent_outcomes(builder).adjustment(snap.customer, snap.t)
    _, plain = model.predict_matrix(features)
    _, adjusted = model.predict_matrix(features, adjustment)
    actual = np.array([i.delay_days() for i in test], dtype=float)
    company = generate_company(1, customers=60, invoices=3000, mix="distressed")
    behaviour = {c.id: c.behaviour for c in company.customers}  # the behaviour behind each customer
    drifting = np.array([behaviour[i.customer_id] == "deteriorating" for i in test])
    assert drifting.sum() > 50

    def above_p90(q: np.ndarray) -> float:
        return float((actual[drifting] > q[drifting, 2]).mean())

    # Without the adjustment about a third of their payments land after p90 (37% with additive offsets,
    # 31% with width-scaled ones); with it, close to the promised 10%.
    assert above_p90(plain) > 0.25
    assert above_p90(adjusted) < 0.15
    # Overall coverage moves towards the promised 80% (0.73 -> 0.79 here), and the quantiles stay ordered.

    def coverage(q: np.ndarray) -> float:
        return float(((q[:, 0] <= actual) & (actual <= q[:, 2])).mean())

    assert abs(coverage(adjusted) - 0.8) < abs(coverage(plain) - 0.8)
    assert (adjusted[:, 0] <= adjusted[:, 1]).all()
    assert (adjusted[:, 1] <= adjusted[:, 2]).all()


def test_rescoring_an_overdue_invoice_follows_the_recent_window(distressed) -> None:  # type: ignore[no-untyped-def]
    """Re-scored 14 days past due, held-out invoices are covered as promised only with the window's overdue
    offsets and the customer's shift: the trained offsets come from invoices due months before the cut-off,
    and the late payers who make up an overdue book have drifted since."""
    history, model, cutoff = distressed
    end = max(i.paid_date or i.issue_date for i in history)
    test = [i for i in history if i.issue_date >= cutoff and i.due_date + timedelta(days=104) <= end
            and not i.settled_before(i.due_date + timedelta(days=14))]
    builder = FeatureBuilder(history)
    snap = builder.snapshots([(i, i.due_date + timedelta(days=14)) for i in test])
    features = builder.matrix(snap)
    _, trained = model.predict_matrix(features)
    _, adjusted = model.predict_adjusted(builder, snap, features)
    actual = np.array([i.delay_days() if i.paid_date else 10**4 for i in test], dtype=float)
    assert len(test) > 100

    def above_p90(q: np.ndarray) -> float:
        return float((actual > q[:, 2]).mean())

    def coverage(q: np.ndarray) -> float:
        return float(((q[:, 0] <= actual) & (actual <= q[:, 2])).mean())

    # Here (a small book, few trees): 20% after p90 -> 12.5%, coverage 0.72 -> 0.76.
    assert above_p90(trained) > 0.15
    assert above_p90(adjusted) < 0.15
    assert abs(coverage(adjusted) - 0.8) < abs(coverage(trained) - 0.8)
    assert (adjusted[:, 0] >= 14).all()  # never before the scoring day: it was still unpaid then


def test_trending_means_a_projection_well_above_the_median() -> None:
    from addon.domain.scoring.features import FEATURE_NAMES, feature_index
    from addon.domain.scoring.online import TREND_GAP_DAYS, trending

    values = np.zeros((4, len(FEATURE_NAMES)))
    values[:, feature_index("cust_median_delay")] = [10.0, 10.0, np.nan, 10.0]
    values[:, feature_index("cust_projected_delay")] = [10.0 + TREND_GAP_DAYS + 1, 10.0 + TREND_GAP_DAYS - 1, 30.0,
                                                        np.nan]
    assert trending(values).tolist() == [True, False, False, False]  # no settled history: not trending


def test_a_lasting_trend_is_one_whose_recent_delays_are_up_too() -> None:
    from addon.domain.scoring.features import FEATURE_NAMES, feature_index
    from addon.domain.scoring.online import TREND_GAP_DAYS, lasting, trend_floor

    values = np.zeros((4, len(FEATURE_NAMES)))
    values[:, feature_index("cust_median_delay")] = 10.0
    values[:, feature_index("cust_projected_delay")] = [30.0, 30.0, 10.0 + TREND_GAP_DAYS - 1, 30.0]
    # Rising and still rising; a season that has ended (the fitted line remembers it, the recent invoices are
    # on time again); no trend; no exponentially weighted delay.
    values[:, feature_index("cust_ewm_delay")] = [25.0, 9.0, 25.0, np.nan]
    assert lasting(values).tolist() == [True, False, False, False]
    assert trend_floor(values).tolist() == [30.0, -np.inf, -np.inf, -np.inf]


def _trending_book(make_inv) -> list[HistoryInvoice]:  # type: ignore[no-untyped-def]
    """30 customers paying later by a day with every invoice, 30 paying a steady 0-4 days late; 40 invoices
    each, one every 10 days."""
    history = []
    for c in range(30):
        history += [make_inv(f"T{c}-{n}", f"trend{c}", issued=10 * n + c % 10, paid=n) for n in range(40)]
        history += [make_inv(f"S{c}-{n}", f"steady{c}", issued=10 * n + c % 10, paid=(n * 7 + c) % 5)
                    for n in range(40)]
    return history


def test_trending_customers_get_their_own_upper_offset(make_inv, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from addon.domain.scoring import online

    history = _trending_book(make_inv)
    day = max(i.issue_date for i in history) + timedelta(days=1)
    split = RecentOutcomes(ZeroModel(), FeatureBuilder(history)).calibration(day.toordinal())
    monkeypatch.setattr(online, "MIN_GROUP", 10**6)  # too few rows for a group of its own: one upper offset
    pooled = RecentOutcomes(ZeroModel(), FeatureBuilder(history)).calibration(day.toordinal())
    assert split is not None
    assert pooled is not None
    assert pooled.upper_trending is None
    assert split.upper_trending is not None
    assert split.lower == pooled.lower  # the lower offset stays pooled
    # The customers whose delays keep growing outrun their shift: they need the wider p90, the others less.
    assert split.upper_trending > pooled.upper > split.upper


def test_the_window_measures_the_trending_upper_offset_on_the_lifted_p90(make_inv, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The window's trending rows are issued as scoring issues them, p50 and p90 lifted to a lasting trend's
    projection: the upper offset they need is then smaller, and the lower offset is not touched."""
    from addon.domain.scoring import online

    history = _trending_book(make_inv)
    day = max(i.issue_date for i in history).toordinal() + 1
    lifted = RecentOutcomes(ZeroModel(), FeatureBuilder(history)).calibration(day)
    monkeypatch.setattr(online, "trend_floor", lambda values: np.full(len(values), -np.inf))
    plain = RecentOutcomes(ZeroModel(), FeatureBuilder(history)).calibration(day)
    assert lifted is not None
    assert plain is not None
    assert lifted.upper_trending is not None
    assert plain.upper_trending is not None
    assert lifted.upper_trending < plain.upper_trending
    assert (lifted.lower, lifted.upper) == (plain.lower, plain.upper)


def test_a_lasting_trend_lifts_the_p50_and_p90_of_rows_not_yet_due(distressed, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from addon.domain.scoring import model as model_module
    from addon.domain.scoring.features import feature_index

    history, model, cutoff = distressed
    builder = FeatureBuilder(history)
    test = [i for i in history if i.issue_date >= cutoff]
    snap = builder.snapshots([(i, i.issue_date + timedelta(days=(n % 3) * 20)) for n, i in enumerate(test)])
    features = builder.matrix(snap)
    adjustment = model.adjust(builder, snap, features)
    _, q = model.predict_matrix(features, adjustment)
    monkeypatch.setattr(model_module, "trend_floor", lambda values: np.full(len(values), -np.inf))
    _, plain = model.predict_matrix(features, adjustment)
    floor = trend_floor(features.values)
    _, _, have = adjustment.offsets()
    due = -features.values[:, feature_index("days_to_due")] <= 0
    lifted = have & due & (floor > plain[:, 1] + 1.0)
    assert lifted.sum() > 20
    np.testing.assert_array_equal(q[:, 0], plain[:, 0])  # the p10 stays
    np.testing.assert_allclose(q[lifted, 1], np.round(floor[lifted]))
    assert (q[lifted, 2] > plain[lifted, 2]).all()
    untouched = ~(have & due & np.isfinite(floor))  # past due, no floor, or no window: as before
    assert (untouched & (np.isfinite(floor))).any()
    np.testing.assert_array_equal(q[untouched], plain[untouched])


def test_each_row_takes_its_groups_upper_offset_unless_past_due() -> None:
    from addon.domain.scoring.online import Adjustment, Calibration

    calibration = Calibration(1.0, 2.0, overdue=((3.0, 4.0),), upper_trending=5.0)
    adjustment = Adjustment(np.zeros(4), np.zeros(4, dtype=np.int64), [calibration], stage=np.array([-1, -1, 0, -1]),
                            trending=np.array([True, False, True, False]))
    lower, upper, have = adjustment.offsets(2.0)
    assert lower.tolist() == [2.0, 2.0, 6.0, 2.0]
    assert upper.tolist() == [10.0, 4.0, 8.0, 4.0]  # trending, other, past due (its checkpoint's), other
    assert have.all()
    without = replace(adjustment, trending=None)
    assert without.offsets(1.0)[1].tolist() == [2.0, 2.0, 4.0, 2.0]


def test_scoring_tells_the_adjustment_which_rows_are_trending(small_model, small_history) -> None:  # type: ignore[no-untyped-def]
    from addon.domain.scoring.features import open_at
    from addon.domain.scoring.online import trending

    model, as_of = small_model
    builder = FeatureBuilder(as_seen_at(small_history, as_of))
    snap = builder.snapshots([(inv, as_of) for inv in open_at(small_history, as_of)])
    features = builder.matrix(snap)
    adjustment = model.adjust(builder, snap, features)
    assert adjustment.trending is not None
    assert adjustment.trending.tolist() == trending(features.values).tolist()
    assert model.adjust(builder, snap).trending is None


def test_a_steady_customers_p50_takes_its_miss_at_a_higher_noise_level(make_inv) -> None:  # type: ignore[no-untyped-def]
    from addon.domain.scoring.online import RESIDUAL_T2, STEADY_T2

    misses = (8, 12, 2, 10)  # the ZeroModel's p50 is the due date: each delay is the miss
    history = [make_inv(f"A{n}", "a", issued=10 * n, paid=d) for n, d in enumerate(misses)]
    builder = FeatureBuilder(history)
    recent = RecentOutcomes(ZeroModel(), builder)
    day = max(i.paid_date for i in history if i.paid_date) + timedelta(days=1)
    code = builder.snapshots([(history[0], day)]).customer
    mean, se2 = np.mean(misses), np.var(misses, ddof=1) / len(misses)
    t2 = mean * mean / se2

    def shrunk(level: float) -> float:
        return float(mean * t2 / (t2 + level))

    shift, mid = recent.shifts(np.repeat(code, 2), _days(day, day), np.array([False, True]))
    assert shift.tolist() == pytest.approx([shrunk(RESIDUAL_T2)] * 2)  # the interval's shift: one level
    assert mid.tolist() == pytest.approx([shrunk(STEADY_T2), shrunk(RESIDUAL_T2)])  # steady, trending
    assert recent.shifts(code, _days(day))[1].tolist() == pytest.approx([shrunk(RESIDUAL_T2)])  # not told: as trending


def test_the_p50_moves_with_its_own_shift_and_the_interval_with_the_others(distressed) -> None:  # type: ignore[no-untyped-def]
    from addon.domain.scoring.features import feature_index

    history, model, cutoff = distressed
    builder = FeatureBuilder(history)
    snap = builder.snapshots([(i, i.issue_date) for i in history if i.issue_date >= cutoff])
    features = builder.matrix(snap)
    adjustment = model.adjust(builder, snap, features)
    assert adjustment.mid_shift is not None
    assert adjustment.trending is not None
    steady = ~adjustment.trending & (adjustment.shift != 0)
    assert steady.any()
    assert np.all(np.abs(adjustment.mid_shift[steady]) < np.abs(adjustment.shift[steady]))  # shrunk further
    np.testing.assert_array_equal(adjustment.mid_shift[adjustment.trending], adjustment.shift[adjustment.trending])
    _, q = model.predict_matrix(features, adjustment)
    _, moved = model.predict_matrix(features, replace(adjustment, mid_shift=adjustment.mid_shift + 3.0))
    _, _, have = adjustment.offsets()
    past_due = -features.values[:, feature_index("days_to_due")]
    # (rows whose p50 sits on a lasting trend's floor would stay there: see the floor's own test)
    clear = (have & (q[:, 1] + 3.0 < q[:, 2]) & (q[:, 1] > q[:, 0]) & (q[:, 1] > past_due)
             & (trend_floor(features.values) < q[:, 1] - 1.0))
    assert clear.sum() > 10
    np.testing.assert_allclose(moved[clear, 1], q[clear, 1] + 3.0)
    np.testing.assert_array_equal(moved[:, [0, 2]][clear], q[:, [0, 2]][clear])
