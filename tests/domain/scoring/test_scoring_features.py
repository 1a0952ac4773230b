"""Point-in-time features on hand-built invoices, and the no-leak property on generated history."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from addon.domain.scoring.features import FEATURE_NAMES, FeatureBuilder, build_features, open_at
from addon.domain.scoring.history import HistoryInvoice


def _row(builder: FeatureBuilder, target: HistoryInvoice, as_of: date) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, builder.row(target, as_of).tolist(), strict=True))


def test_customer_history_uses_only_invoices_settled_before_as_of(make_inv) -> None:  # type: ignore[no-untyped-def]
    past = [make_inv("A", issued=0, paid=10), make_inv("B", issued=10, paid=-2), make_inv("C", issued=20, paid=20)]
    target = make_inv("T", issued=60)
    builder = FeatureBuilder([*past, target])
    f = _row(builder, target, target.issue_date)
    # A settles day 40, B day 38; C (day 70) is still open on day 60.
    assert f["cust_settled"] == 2
    assert f["cust_last_delay"] == 10  # settlement order: B (day 38) then A (day 40)
    assert f["cust_mean_delay"] == 4
    assert f["cust_median_delay"] == 4
    assert f["open_count"] == 1  # C, not the scored invoice itself
    assert f["overdue_count"] == 1  # C was due on day 50
    assert f["max_days_overdue"] == 10
    assert f["cust_days_since_payment"] == 20
    # one late of two, smoothed towards the organisation's (late+1)/(n+2) = 2/4 with 3 pseudo-invoices
    assert f["cust_late_rate"] == pytest.approx((1 + 3 * 0.5) / (2 + 3))


def test_scored_invoice_state(make_inv) -> None:  # type: ignore[no-untyped-def]
    target = make_inv("T", issued=0, terms=30, disputed=True)
    builder = FeatureBuilder([target])
    at_issue = _row(builder, target, target.issue_date)
    assert at_issue["age_days"] == 0
    assert at_issue["days_to_due"] == 30
    assert at_issue["dispute_open"] == 0  # a dispute is not known when the invoice is issued
    later = _row(builder, target, target.due_date + timedelta(days=12))
    assert later["days_to_due"] == -12
    assert later["dispute_open"] == 1


def test_payments_and_reminders_so_far(make_inv) -> None:  # type: ignore[no-untyped-def]
    base = make_inv("T", issued=0, terms=30, amount="400")
    day = base.issue_date.toordinal()
    target = replace(base, payments=((date.fromordinal(day + 35), Decimal("100")),
                                     (date.fromordinal(day + 50), Decimal("60"))),
                     reminder_dates=(date.fromordinal(day + 33), date.fromordinal(day + 40)))
    builder = FeatureBuilder([target])
    at_issue = _row(builder, target, target.issue_date)
    assert (at_issue["paid_share"], at_issue["reminders_sent"]) == (0, 0)
    assert math.isnan(at_issue["days_since_part_payment"])
    assert math.isnan(at_issue["days_since_reminder"])
    on_day_50 = _row(builder, target, date.fromordinal(day + 50))  # the second payment is not known yet
    assert on_day_50["paid_share"] == pytest.approx(0.25)
    assert on_day_50["days_since_part_payment"] == 15
    assert on_day_50["reminders_sent"] == 2
    assert on_day_50["days_since_reminder"] == 10
    later = _row(builder, target, date.fromordinal(day + 51))
    assert later["paid_share"] == pytest.approx(0.4)
    assert later["days_since_part_payment"] == 1
    assert math.isnan(later["promise_days_ahead"])
    promised = replace(target, promises=((date.fromordinal(day + 45), date.fromordinal(day + 60)),))
    assert math.isnan(_row(FeatureBuilder([promised]), promised, date.fromordinal(day + 45))["promise_days_ahead"])
    assert _row(FeatureBuilder([promised]), promised, date.fromordinal(day + 51))["promise_days_ahead"] == 9
    assert _row(FeatureBuilder([promised]), promised, date.fromordinal(day + 64))["promise_days_ahead"] == -4  # broken
    # The columnar path (how the service scores) reads the same events.
    frame_rows = builder.frame_snapshots(builder.frame, np.array([0]), np.array([0]), date.fromordinal(day + 51))
    np.testing.assert_array_equal(builder.matrix(frame_rows).values[0], builder.row(target, date.fromordinal(day + 51)))


def test_unknown_customer_gets_missing_history_not_zeros(make_inv) -> None:  # type: ignore[no-untyped-def]
    builder = FeatureBuilder([make_inv("A", customer="C1", issued=0, paid=5)])
    new = make_inv("N", customer="NEW", issued=80)
    f = _row(builder, new, new.issue_date)
    assert f["cust_settled"] == 0
    assert math.isnan(f["cust_mean_delay"])
    assert f["cust_late_rate"] == pytest.approx(2 / 3)  # organisation prior: (1 late + 1) / (1 + 2)


def test_amount_relative_to_typical_uses_earlier_invoices(make_inv) -> None:  # type: ignore[no-untyped-def]
    history = [make_inv("A", issued=0, amount="100"), make_inv("B", issued=5, amount="300")]
    target = make_inv("T", issued=10, amount="800")
    f = _row(FeatureBuilder([*history, target]), target, target.issue_date)
    assert f["amount_vs_typical"] == pytest.approx(4.0)  # median of 100 and 300 is 200


def test_trend_projection_follows_a_customer_who_is_getting_slower(make_inv) -> None:  # type: ignore[no-untyped-def]
    steady = [make_inv(f"S{i}", customer="S", issued=i * 10, paid=5 + (i % 3) - 1) for i in range(15)]
    slower = [make_inv(f"D{i}", customer="D", issued=i * 10, paid=2 * i) for i in range(15)]
    t_s, t_d = make_inv("TS", customer="S", issued=240), make_inv("TD", customer="D", issued=240)
    builder = FeatureBuilder([*steady, *slower, t_s, t_d])
    fs, fd = _row(builder, t_s, t_s.issue_date), _row(builder, t_d, t_d.issue_date)
    assert fs["cust_projected_delay"] == pytest.approx(fs["cust_median_delay"])  # no trend: no shift
    assert fd["cust_projected_delay"] > fd["cust_last_delay"] > fd["cust_median_delay"]


def test_build_features_defaults_to_invoices_open_at_as_of(make_inv) -> None:  # type: ignore[no-untyped-def]
    rows = [make_inv("A", issued=0, paid=0), make_inv("B", issued=5), make_inv("C", issued=100)]
    as_of = date(2025, 2, 15)
    assert [i.invoice_id for i in open_at(rows, as_of)] == ["B"]
    fm = build_features(rows, as_of)
    assert fm.invoice_ids == ["B"]
    assert fm.values.shape == (1, len(FEATURE_NAMES))
    assert fm.row("B")["age_days"] == 40


def _rewrite_future(history: list[HistoryInvoice], as_of: date, rng: random.Random) -> list[HistoryInvoice]:
    """Change everything not yet known at ``as_of``; what was known stays identical."""
    out = []
    for inv in history:
        if inv.issue_date > as_of:
            # invoices issued later: change them beyond recognition
            out.append(replace(inv, amount=inv.amount * 7, paid_date=None, disputed=True, currency="JPY"))
            continue
        if not inv.settled_before(as_of):
            new_paid = as_of + timedelta(days=rng.randrange(0, 200)) if rng.random() < 0.7 else None
            # payments and reminders from the cut-off on are new; those before it stay
            later = tuple((as_of + timedelta(days=rng.randrange(0, 60)), Decimal(rng.randrange(1, 500)))
                          for _ in range(rng.randrange(0, 3)))
            sent = tuple(as_of + timedelta(days=rng.randrange(0, 60)) for _ in range(rng.randrange(0, 3)))
            promised = tuple((as_of + timedelta(days=rng.randrange(0, 30)),
                              as_of + timedelta(days=rng.randrange(30, 60))) for _ in range(rng.randrange(0, 2)))
            out.append(replace(inv, paid_date=new_paid, credited=Decimal(rng.randrange(0, 50)),
                               partial_payments=rng.randrange(0, 3),
                               payments=tuple(p for p in inv.payments if p[0] < as_of) + later,
                               reminder_dates=tuple(d for d in inv.reminder_dates if d < as_of) + sent,
                               promises=tuple(p for p in inv.promises if p[0] < as_of) + promised,
                               disputed=inv.disputed if inv.due_date <= as_of else rng.random() < 0.5))
            continue
        out.append(inv)
    extra = [HistoryInvoice(f"X{n}", inv.customer_id, as_of + timedelta(days=n + 1), as_of + timedelta(days=40),
                            Decimal("99999"), "GBP", as_of + timedelta(days=n + 2))
             for n, inv in enumerate(history[:30])]
    return out + extra


def test_no_future_information_leaks(small_history: list[HistoryInvoice]) -> None:
    rng = random.Random(3)
    for as_of in (date(2025, 6, 1), date(2026, 1, 15), date(2026, 8, 20)):
        targets = [i for i in small_history if i.issue_date <= as_of][-40:]
        targets += [replace(i, paid_date=None) for i in small_history if i.issue_date > as_of][:5]
        snaps = [(t, as_of) for t in targets]
        original = FeatureBuilder(small_history).matrix(snaps).values
        rewritten_history = _rewrite_future(small_history, as_of, rng)
        rewritten_targets = {i.invoice_id: i for i in rewritten_history}
        snaps2 = [(rewritten_targets.get(t.invoice_id, t) if t.issue_date <= as_of else t, as_of) for t in targets]
        # the scored invoice's own fields known at issue stay; only its unknown future may change
        snaps2 = [(replace(t2, amount=t.amount, currency=t.currency), d)
                  for (t2, d), t in zip(snaps2, targets, strict=True)]
        rewritten = FeatureBuilder(rewritten_history).matrix(snaps2).values
        np.testing.assert_array_equal(np.isnan(original), np.isnan(rewritten))
        np.testing.assert_allclose(np.nan_to_num(original), np.nan_to_num(rewritten))


def test_the_leak_check_can_fail(small_history: list[HistoryInvoice]) -> None:
    # Guard for the test above: moving a *known* settlement does change features.
    as_of = date(2026, 1, 15)
    target = next(i for i in reversed(small_history) if i.issue_date <= as_of)
    settled = [i for i in small_history if i.customer_id == target.customer_id and i.settled_before(as_of)]
    assert settled
    known = settled[-1]
    changed = [replace(i, disputed=not i.disputed) if i is known else i for i in small_history]
    a = FeatureBuilder(small_history).row(target, as_of)
    b = FeatureBuilder(changed).row(target, as_of)
    assert not np.allclose(np.nan_to_num(a), np.nan_to_num(b))
