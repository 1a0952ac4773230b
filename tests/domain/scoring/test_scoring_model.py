"""Training, scoring, artifacts, bands and cold start on tiny generated data."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from addon.domain.scoring.features import FEATURE_NAMES, build_features, open_at
from addon.domain.scoring.history import HistoryInvoice, as_seen_at
from addon.domain.scoring.model import (
    DEFAULT_BANDS,
    ArtifactError,
    RiskModel,
    classifier_margin,
    model_matrix,
    risk_band,
)
from addon.domain.scoring.online import Adjustment
from addon.domain.scoring.train import (
    NotEnoughHistoryError,
    TrainConfig,
    _Rows,
    _window,
    needs_prior,
    snapshot_days,
    train_leaning_on_prior,
    train_model,
)
from addon.services.scoring_prior import generated_history

FAST = TrainConfig(classifier_rounds=30, quantile_rounds=30, nthread=1)


@pytest.fixture(scope="module")
def scored(small_model: tuple[RiskModel, date], small_history: list[HistoryInvoice]):  # type: ignore[no-untyped-def]
    model, as_of = small_model
    opened = open_at(small_history, as_of)
    return model.predict(opened, small_history, as_of), opened, as_of


def test_scores_every_open_invoice_with_sane_values(scored) -> None:  # type: ignore[no-untyped-def]
    scores, opened, _ = scored
    assert [s.invoice_id for s in scores] == [i.invoice_id for i in opened]
    for s in scores:
        assert 0 < s.p_late < 1 or s.p_late == 1.0
        assert s.p10_days <= s.p50_days <= s.p90_days
        assert float(s.p50_days).is_integer()  # payment days are whole days
        assert s.band in {"low", "medium", "high"}


def test_overdue_invoices_are_conditioned_on_still_being_unpaid(scored) -> None:  # type: ignore[no-untyped-def]
    scores, opened, as_of = scored
    by_id = {s.invoice_id: s for s in scores}
    overdue = [i for i in opened if i.due_date < as_of]
    assert overdue, "fixture should contain overdue invoices"
    for inv in overdue:
        s = by_id[inv.invoice_id]
        assert s.p_late == 1.0
        assert s.p10_days >= (as_of - inv.due_date).days  # it cannot be paid before today
        assert s.expected_pay_date >= as_of
    # the remaining-time model keeps a real interval instead of collapsing onto "today"
    widths = [by_id[i.invoice_id].p90_days - by_id[i.invoice_id].p10_days for i in overdue]
    assert sum(w > 1 for w in widths) >= len(widths) / 2


def test_reasons_are_plain_phrases(scored) -> None:  # type: ignore[no-untyped-def]
    scores, _, _ = scored
    assert all(1 <= len(s.reasons) <= 3 for s in scores)
    assert all(isinstance(r, str) and r and "_" not in r for s in scores for r in s.reasons)
    assert any("customer paid" in r for s in scores for r in s.reasons)


def test_artifact_round_trip_gives_identical_scores(small_model, small_history) -> None:  # type: ignore[no-untyped-def]
    model, as_of = small_model
    data = model.to_bytes()
    loaded = RiskModel.from_bytes(data)
    opened = open_at(small_history, as_of)[:20]
    assert loaded.predict(opened, small_history, as_of) == model.predict(opened, small_history, as_of)
    assert loaded.version == model.version
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert sorted(names) == ["classifier.json", "classifier_1.json", "median.json", "metadata.json",
                             "quantiles.json"]  # no pickles
    meta = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("metadata.json"))
    assert meta["training_window"]["end"] == as_of.isoformat()
    assert meta["format"] == 1


def test_p_late_is_the_mean_of_the_staggered_members(small_model, small_history) -> None:  # type: ignore[no-untyped-def]
    model, as_of = small_model
    assert len(model.companions) == 1  # the default: two windows, an eighth of the labelled invoices apart
    opened = open_at(small_history, as_of)
    x = build_features(small_history, as_of, opened).values
    dm = model_matrix(x, classifier_margin(x))
    first = model.probability.apply(model.classifier.predict(dm).astype(np.float64))
    (clf, calibrator), = model.companions
    second = calibrator.apply(clf.predict(dm).astype(np.float64))
    assert not np.allclose(first, second)  # two different members, not one counted twice
    np.testing.assert_allclose(model.p_late(x), (first + second) / 2)


def test_the_recent_lateness_correction_moves_each_member_in_log_odds(small_model, small_history
                                                                     ) -> None:  # type: ignore[no-untyped-def]
    model, as_of = small_model
    x = build_features(small_history, as_of, open_at(small_history, as_of)).values
    members = model.member_p_late(x)
    assert members.shape == (len(x), 2)
    np.testing.assert_allclose(members.mean(axis=1), model.p_late(x))
    shift = np.tile([1.0, -0.5], (len(x), 1))
    expected = np.mean([1 / (1 + np.exp(-(np.log(members[:, m] / (1 - members[:, m])) + shift[:, m])))
                        for m in range(2)], axis=0)
    np.testing.assert_allclose(model.p_late(x, shift), expected)
    np.testing.assert_allclose(model.p_late(x, np.zeros((len(x), 1))), model.p_late(x))


def test_the_recent_lateness_correction_is_credited_to_the_customers_record(small_model, small_history
                                                                            ) -> None:  # type: ignore[no-untyped-def]
    """Reasons come from the first classifier: its correction (log-odds, like the contributions) is the
    customer's record, so "paid the last invoices late" can be the reason for a corrected score."""
    model, as_of = small_model
    features = build_features(small_history, as_of, open_at(small_history, as_of)[:10])
    n = len(features.values)
    adjustment = Adjustment(np.zeros(n), np.zeros(n, dtype=np.int64), [None], late_shift=np.tile([1.5, 0.3], (n, 1)))
    plain, corrected = model._contributions(features), model._contributions(features, adjustment)
    record = FEATURE_NAMES.index("cust_late_rate")
    due = features.values[:, FEATURE_NAMES.index("days_to_due")] >= 0  # past due: reasons explain the pay date
    assert due.any()
    assert not due.all()
    np.testing.assert_allclose(corrected[due, record] - plain[due, record], 1.5)
    np.testing.assert_array_equal(corrected[~due], plain[~due])
    np.testing.assert_array_equal(np.delete(corrected, record, axis=1), np.delete(plain, record, axis=1))


def test_an_artifact_without_companions_scores_with_its_one_classifier(small_model, small_history
                                                                       ) -> None:  # type: ignore[no-untyped-def]
    """Artifacts written before the staggered windows keep scoring until the weekly retrain replaces them."""
    model, as_of = small_model
    old = RiskModel.from_bytes(_rewritten(model.to_bytes(), lambda meta: meta.pop("companions"),
                                          drop="classifier_1.json"))
    assert old.companions == []
    opened = open_at(small_history, as_of)[:20]
    x = build_features(small_history, as_of, opened).values
    np.testing.assert_array_equal(old.p_late(x), model.probability.apply(
        model.classifier.predict(model_matrix(x, classifier_margin(x))).astype(np.float64)))


def test_artifact_rejects_other_formats(small_model) -> None:  # type: ignore[no-untyped-def]
    model, _ = small_model
    with pytest.raises(ArtifactError):
        RiskModel.from_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match="feature set"):
        RiskModel.from_bytes(_rewritten(model.to_bytes(), lambda meta: meta.update(features=meta["features"][:-1])))


def _rewritten(artifact: bytes, edit: Callable[[dict[str, Any]], object], drop: str = "") -> bytes:
    """``artifact`` with its metadata changed by ``edit`` and the file ``drop`` left out."""
    buf = io.BytesIO()
    src = zipfile.ZipFile(io.BytesIO(artifact))
    with zipfile.ZipFile(buf, "w") as zf:
        for name in src.namelist():
            data = src.read(name)
            if name == "metadata.json":
                meta = json.loads(data)
                edit(meta)
                data = json.dumps(meta).encode()
            if name != drop:
                zf.writestr(name, data)
    return buf.getvalue()


def test_training_ignores_the_future(small_history: list[HistoryInvoice]) -> None:
    as_of = date(2026, 3, 1)
    rewritten = [replace(i, paid_date=None) if not i.settled_before(as_of) else i for i in small_history]
    a = train_model(small_history, as_of, FAST)
    b = train_model(rewritten, as_of, FAST)
    probe = open_at(small_history, as_of)[:15]
    assert a.predict(probe, small_history, as_of) == b.predict(probe, rewritten, as_of)


@pytest.mark.parametrize(("p", "band"), [(0.0, "low"), (0.349, "low"), (0.35, "medium"), (0.9, "high")])
def test_default_bands(p: float, band: str) -> None:
    assert risk_band(p, DEFAULT_BANDS) == band


def test_bands_are_configurable_and_order_free() -> None:
    bands = [("watch", 0.5), ("fine", 0.0), ("chase", 0.8)]
    assert [risk_band(p, bands) for p in (0.1, 0.5, 0.95)] == ["fine", "watch", "chase"]
    with pytest.raises(ValueError):
        risk_band(0.5, [])


def test_snapshots_stop_once_paid(make_inv) -> None:  # type: ignore[no-untyped-def]
    inv = make_inv("A", issued=0, terms=30, paid=10)
    days = snapshot_days(inv, (-7, 0, 7, 14, 30))
    offsets = [(d - inv.due_date).days for d in days]
    assert offsets == [-30, -7, 0, 7]  # issue, then checkpoints while unpaid (paid on due + 10)


def test_cold_start(small_history: list[HistoryInvoice], make_inv) -> None:  # type: ignore[no-untyped-def]
    tiny = [make_inv(f"T{i}", customer=f"N{i % 3}", issued=i * 7, paid=i % 5) for i in range(12)]
    as_of = date(2025, 6, 1)
    assert needs_prior(tiny, as_of)
    assert not needs_prior(small_history, date(2026, 9, 1), minimum=100)
    with pytest.raises(NotEnoughHistoryError):
        train_model(tiny, as_of, FAST)
    model = train_model(tiny, as_of, FAST, prior=[(small_history, date(2026, 9, 1))])
    assert model.metadata["calibrated_on"] == "pooled"
    new = make_inv("NEW", customer="N1", issued=160)
    (score,) = model.predict([new], tiny, new.issue_date)
    assert 0 < score.p_late < 1
    assert score.expected_pay_date == new.due_date + timedelta(days=round(score.p50_days))


def test_calibration_windows_are_staggered_and_held_out_of_their_member() -> None:
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(80)]
    newest = _window(days, 0.25)
    staggered = _window(days, 0.25, 0.125)
    assert (date.fromordinal(newest[0]), newest[1]) == (days[60], date.max.toordinal())
    assert (date.fromordinal(staggered[0]), date.fromordinal(staggered[1])) == (days[50], days[70])
    rows = _Rows([newest, staggered])
    for day in days:
        rows.add(np.zeros(len(FEATURE_NAMES)), 0.0, False, day)
    inside = [rows.in_window(member) for member in (0, 1)]
    assert [int(w.sum()) for w in inside] == [20, 20]
    assert int((inside[0] & inside[1]).sum()) == 10  # the windows overlap by half
    # a member fits on every row outside its own window (the newest rows too, for the staggered one)
    assert [len(rows.part(False, member)[1]) for member in (0, 1)] == [60, 60]
    assert len(rows.part(None)[1]) == 80


def test_the_prior_is_built_only_for_a_cold_history_and_an_explicit_choice_is_obeyed(
        small_history: list[HistoryInvoice]) -> None:
    from addon.services.scoring_prior import prior_histories
    from connectors.sandbox.generator import generate_company

    built = []

    def prior() -> Any:
        built.append(1)
        return prior_histories(invoices=400, customers=20, seeds=(101,))

    as_of = max(i.issue_date for i in small_history)
    _, used = train_leaning_on_prior(small_history, as_of, FAST, prior, use_prior=False)
    assert (used, built) == (False, [])
    # Ten busy weeks: plenty of settled invoices (not cold by count), none due 90 days before the end.
    company = generate_company(11, customers=20, invoices=700, months=2, today=date(2026, 11, 1))
    short = [HistoryInvoice(i.id, i.customer_id, i.issue_date, i.due_date, i.total, i.currency, i.paid_date)
             for i in company.invoices if not i.voided]
    assert not needs_prior(short, company.today)
    with pytest.raises(NotEnoughHistoryError, match="to learn payment days"):
        train_leaning_on_prior(short, company.today, FAST, prior, use_prior=False)
    assert built == []
    model, used = train_leaning_on_prior(short, company.today, FAST, prior)
    assert used
    assert built == [1]
    assert model.metadata["prior_histories"] == 3  # one per behaviour mix


def test_a_recent_partial_payment_brings_the_expected_settlement_closer() -> None:
    """The open invoice's own events are used: in the generated books a partial payment comes 7-30 days
    before settlement, so an overdue invoice that has just been part-paid is expected sooner than the same
    invoice with nothing paid (the classifier cannot tell: past due, P(late) is 1 either way)."""
    history = generated_history(seed=4, mix="balanced", customers=60, invoices=3000)
    as_of = date(2026, 10, 1)
    model = train_model(history, as_of, TrainConfig(classifier_rounds=30, quantile_rounds=200, nthread=1))
    overdue = [i for i in as_seen_at(history, as_of)
               if i.paid_date is None and not i.payments and (as_of - i.due_date).days >= 14]
    assert len(overdue) >= 20
    three_days_ago = as_of - timedelta(days=3)
    part_paid = [replace(i, payments=((three_days_ago, (i.amount * Decimal("0.4")).quantize(Decimal("0.01"))),))
                 for i in overdue]
    nothing = {s.invoice_id: s for s in model.predict(overdue, history, as_of, reasons=0)}
    paid = {s.invoice_id: s for s in model.predict(part_paid, history, as_of, reasons=3)}
    sooner = np.array([nothing[k].p50_days - paid[k].p50_days for k in nothing])
    assert sooner.mean() >= 0.5, sooner
    assert (sooner >= 0).mean() >= 0.8
    # The late tail moves most: the wait can no longer be open-ended.
    assert np.mean([nothing[k].p90_days - paid[k].p90_days for k in nothing]) >= 2
    # Past due, reasons explain the expected day (the payment-day model), so the payment can be one of them.
    assert any("40% of this invoice paid so far, the last payment 3 days ago" in s.reasons for s in paid.values())


def test_a_failure_while_explaining_reaches_the_caller(small_model, small_history, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The contributions run on a second thread: an error there is raised by predict, not lost."""
    model, as_of = small_model
    open_now = open_at(small_history, as_of)

    def broken(*args: object) -> None:
        raise RuntimeError("contributions failed")

    monkeypatch.setattr(type(model), "_model_contributions", broken)
    with pytest.raises(RuntimeError, match="contributions failed"):
        model.predict(open_now, small_history, as_of)
    assert len(model.predict(open_now, small_history, as_of, reasons=0)) == len(open_now)  # not needed without reasons
