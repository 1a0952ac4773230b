"""Reason phrases built from the strongest feature contributions."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest

from addon.domain.scoring.features import FEATURE_NAMES, FeatureBuilder, feature_index
from addon.domain.scoring.reasons import explain


def _explain(history, target, weights: dict[str, float], limit: int = 3) -> list[str]:  # type: ignore[no-untyped-def]
    builder = FeatureBuilder([*history, target])
    fm = builder.matrix([(target, target.issue_date)])
    contribs = np.zeros(len(FEATURE_NAMES) + 1)
    for name, w in weights.items():
        contribs[feature_index(name)] = w
    return explain(fm, 0, contribs, builder, target, target.issue_date, limit)


@pytest.mark.parametrize(("delays", "phrase"), [
    ((12, 20, 15, 18), "customer paid the last 4 invoices 12-20 days late"),
    ((-2, 0, -1, 0), "customer paid the last 4 invoices on time or early"),
    ((5, -1, 9, 0), "customer paid 2 of the last 4 invoices late (up to 9 days)"),
    ((7,), "customer paid the last invoice 7 days late"),
])
def test_customer_record_phrase(make_inv, delays: tuple[int, ...], phrase: str) -> None:  # type: ignore[no-untyped-def]
    history = [make_inv(f"H{n}", issued=n * 20, paid=d) for n, d in enumerate(delays)]
    target = make_inv("T", issued=200)
    assert _explain(history, target, {"cust_last_delay": 0.8}) == [phrase]


def test_strongest_contributions_first_and_duplicates_merged(make_inv) -> None:  # type: ignore[no-untyped-def]
    history = [make_inv(f"H{n}", issued=n * 20, paid=15) for n in range(4)]
    history.append(make_inv("OPEN", issued=100))  # overdue at day 200
    target = make_inv("T", issued=200, terms=60, amount="400")
    reasons = _explain(history, target, {"terms_days": 0.2, "cust_mean_delay": 0.9, "cust_ewm_delay": 0.5,
                                         "overdue_count": -0.4, "amount_vs_typical": 0.05})
    assert reasons == [
        "customer paid the last 4 invoices 15 days late",
        "customer has 1 other overdue invoices, the oldest 70 days past due",
        "payment terms of 60 days",
    ]


def test_no_history_and_tiny_contributions(make_inv) -> None:  # type: ignore[no-untyped-def]
    target = make_inv("T", issued=0)
    assert _explain([], target, {"cust_settled": 0.3}) == ["no payment history for this customer yet"]
    assert _explain([], target, {"cust_settled": 0.0001}) == []


def test_payments_and_reminders_so_far_are_phrased(make_inv) -> None:  # type: ignore[no-untyped-def]
    base = make_inv("T", issued=0, terms=30, amount="400")
    target = replace(base, payments=((base.due_date + timedelta(days=5), Decimal("100")),),
                     reminder_dates=(base.due_date + timedelta(days=3), base.due_date + timedelta(days=10)))
    as_of = base.due_date + timedelta(days=12)
    builder = FeatureBuilder([target])
    fm = builder.matrix([(target, as_of)])
    contribs = np.zeros(len(FEATURE_NAMES) + 1)
    contribs[feature_index("paid_share")], contribs[feature_index("reminders_sent")] = -0.6, 0.3
    assert explain(fm, 0, contribs, builder, target, as_of) == [
        "25% of this invoice paid so far, the last payment 7 days ago",
        "2 reminders sent for this invoice, the last 2 days ago",
    ]
    fresh = builder.matrix([(target, base.issue_date)])
    assert explain(fresh, 0, contribs, builder, target, base.issue_date) == [
        "nothing paid on this invoice yet", "no reminder sent for this invoice yet"]


def test_a_promise_to_pay_is_phrased_kept_or_broken(make_inv) -> None:  # type: ignore[no-untyped-def]
    base = make_inv("T", issued=0, terms=30)
    target = replace(base, promises=((base.due_date + timedelta(days=2), base.due_date + timedelta(days=10)),))
    builder = FeatureBuilder([target])
    contribs = np.zeros(len(FEATURE_NAMES) + 1)
    contribs[feature_index("promise_days_ahead")] = -0.5
    promised = (base.due_date + timedelta(days=10)).isoformat()
    for after_due, phrase in ((6, f"the customer promised to pay by {promised}, in 4 days"),
                              (10, f"the customer promised to pay by {promised} (today)"),
                              (13, f"the customer's promise to pay by {promised} was broken 3 days ago")):
        as_of = base.due_date + timedelta(days=after_due)
        assert explain(builder.matrix([(target, as_of)]), 0, contribs, builder, target, as_of) == [phrase]
