"""The vectorised FeatureBuilder against the straightforward per-invoice reference implementation.

``reference_features.ReferenceFeatureBuilder`` is the row-at-a-time code the vectorised builder
replaced. Both must give the same features (to float rounding) on generated histories: open and
settled invoices, many scoring days, customers and invoices the history has never seen, disputes with
and without a known date, countries, dated payments, reminders and promises, same-day settlements whose order
is decided by invoice id, and invoices paid before their issue date.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from addon.domain.scoring.features import FEATURE_NAMES, FeatureBuilder
from addon.domain.scoring.history import HistoryFrame, HistoryInvoice, as_seen_at, decimal_string_rank
from addon.services.scoring_prior import generated_history
from tests.domain.scoring.reference_features import ReferenceFeatureBuilder


def _varied(history: list[HistoryInvoice], seed: int) -> list[HistoryInvoice]:
    """Generated history plus the cases the generator does not produce on its own."""
    rng = random.Random(seed)
    out = []
    for n, inv in enumerate(history):
        changes: dict[str, object] = {"invoice_id": str(rng.randrange(10**6)) + f"-{n}"}  # ids not in issue order
        if rng.random() < 0.3:
            changes["country"] = rng.choice(["GB", "FR", "DE"])
        if inv.disputed and rng.random() < 0.5:
            changes["dispute_date"] = inv.issue_date + timedelta(days=rng.randrange(5, 60))
            if rng.random() < 0.5:  # resolved some weeks later
                changes["dispute_resolved_date"] = changes["dispute_date"] + timedelta(days=rng.randrange(1, 40))  # type: ignore[operator]
        if inv.paid_date is not None and rng.random() < 0.2:  # same-day settlements: order by invoice id
            changes["paid_date"] = inv.paid_date - timedelta(days=inv.paid_date.toordinal() % 7)
            changes["paid_date"] = max(changes["paid_date"], inv.issue_date)  # type: ignore[type-var]
        elif inv.paid_date is not None and rng.random() < 0.03:  # paid in advance, before the invoice date
            changes["paid_date"] = inv.issue_date - timedelta(days=rng.randrange(1, 20))
        if rng.random() < 0.1:
            changes["credited"] = Decimal("10")
        if rng.random() < 0.1:
            changes["partial_payments"] = 2
        if rng.random() < 0.05:
            changes["sent"] = False
        if rng.random() < 0.3:  # reminders while unpaid (the generator's dated payments are kept)
            changes["reminder_dates"] = tuple(
                d for d in (inv.due_date + timedelta(days=k) for k in (3, 10, 24))
                if inv.paid_date is None or d < inv.paid_date)
        if rng.random() < 0.15:  # promises to pay, sometimes two, sometimes recorded the same day
            made = inv.due_date + timedelta(days=rng.randrange(-5, 20))
            changes["promises"] = tuple((made + timedelta(days=rng.choice((0, 0, 9))),
                                         made + timedelta(days=rng.randrange(0, 30)))
                                        for _ in range(rng.randrange(1, 3)))
        out.append(replace(inv, **changes))  # type: ignore[arg-type]
    return out


def _snapshots(seen: list[HistoryInvoice], as_of: date, seed: int) -> list[tuple[HistoryInvoice, date]]:
    rng = random.Random(seed)
    snaps = [(inv, as_of) for inv in seen if inv.paid_date is None]  # the open book, as scoring does
    snaps += [(inv, as_of - timedelta(days=rng.randrange(0, 400))) for inv in rng.sample(seen, 80)]  # training
    snaps += [(inv, inv.issue_date) for inv in rng.sample(seen, 60)]  # at issue, as online recalibration scores
    snaps += [(inv, inv.due_date + timedelta(days=rng.choice((1, 15, 45)))) for inv in rng.sample(seen, 40)]  # overdue
    stranger = replace(seen[0], invoice_id="new-1", customer_id="never-seen", currency="JPY", country="NZ")
    snaps += [(stranger, as_of), (replace(seen[1], invoice_id="not-in-history"), as_of)]
    return snaps


def _assert_same(new: np.ndarray, ref: np.ndarray) -> None:
    for j, name in enumerate(FEATURE_NAMES):
        np.testing.assert_allclose(new[:, j], ref[:, j], rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=name)


@pytest.mark.parametrize(("seed", "mix", "as_of"), [
    (3, "distressed", date(2026, 3, 15)), (5, "balanced", date(2025, 9, 1)),
    (7, "mostly_reliable", date(2026, 6, 30)),
])
def test_vectorised_features_equal_the_reference(seed: int, mix: str, as_of: date) -> None:
    history = _varied(generated_history(seed, mix, 30, 1500), seed)
    seen = as_seen_at(history, as_of)
    snaps = _snapshots(seen, as_of, seed)
    ref = ReferenceFeatureBuilder(seen).matrix(snaps).values
    new = FeatureBuilder(seen).matrix(snaps).values
    assert len(snaps) > 100
    _assert_same(new, ref)
    # Everything but the least-squares trend, the spread and the share paid (a difference of running sums of
    # amounts) is computed from exact integer sums.
    inexact = ("cust_projected_delay", "cust_delay_spread", "paid_share")
    exact = [j for j, name in enumerate(FEATURE_NAMES) if name not in inexact]
    np.testing.assert_array_equal(new[:, exact], ref[:, exact])


def test_rows_and_reasons_helpers_match_the_reference() -> None:
    history = _varied(generated_history(11, "balanced", 12, 500), 11)
    as_of = date(2026, 2, 1)
    seen = as_seen_at(history, as_of)
    new, ref = FeatureBuilder(seen), ReferenceFeatureBuilder(seen)
    for inv in seen[::25]:
        _assert_same(new.row(inv, as_of)[None, :], ref.row(inv, as_of)[None, :])
        assert new.recent_delays(inv.customer_id, as_of) == ref.recent_delays(inv.customer_id, as_of)
    assert new.recent_delays("never-seen", as_of) == []


def test_columnar_history_scores_like_records() -> None:
    history = _varied(generated_history(13, "distressed", 20, 900), 13)
    as_of = date(2026, 1, 10)
    frame = HistoryFrame.from_records(history)
    seen, where = frame.seen_at(as_of)
    assert [seen.invoice_id(i) for i in range(seen.size)] == [i.invoice_id for i in as_seen_at(history, as_of)]
    np.testing.assert_array_equal(seen.paid, HistoryFrame.from_records(as_seen_at(history, as_of)).paid)
    rows = np.flatnonzero(frame.paid == np.max(frame.paid))  # the unpaid ones
    builder = FeatureBuilder(seen)
    by_columns = builder.matrix(builder.frame_snapshots(frame, rows, where[rows], as_of)).values
    records = frame.records_at(rows)
    by_records = FeatureBuilder(as_seen_at(history, as_of)).matrix([(inv, as_of) for inv in records]).values
    np.testing.assert_array_equal(by_columns, by_records)


def test_decimal_string_rank_orders_numbers_as_their_text() -> None:
    numbers = np.array([9, 10, 1, 100, 99, 1000, 0, 19, 2, 1_000_000, 123456])
    by_rank = numbers[np.argsort(decimal_string_rank(numbers), kind="stable")].tolist()
    assert by_rank == [int(s) for s in sorted(str(n) for n in numbers)]


@pytest.mark.parametrize("high", [3, 10**6, 2**40])  # many ties; few; too wide to pack (np.lexsort itself)
def test_packed_lexsort_equals_numpy_lexsort(high: int) -> None:
    from addon.domain.scoring.features import _lexsort

    rng = np.random.default_rng(high % 97)
    keys = (rng.integers(0, high, 5000), rng.integers(-5, 5, 5000), rng.integers(0, 40, 5000))
    np.testing.assert_array_equal(_lexsort(keys), np.lexsort(keys))
    np.testing.assert_array_equal(_lexsort(keys[:1]), np.lexsort(keys[:1]))
    unique = (rng.permutation(5000), rng.integers(0, 9, 5000))
    np.testing.assert_array_equal(_lexsort(unique), np.lexsort(unique))
    assert _lexsort((np.zeros(0, dtype=np.int64),)).tolist() == []
