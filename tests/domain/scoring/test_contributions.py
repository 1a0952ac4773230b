"""Contributions computed once per tree decision pattern are XGBoost's own ``pred_contribs``, bit for bit."""

from __future__ import annotations

from datetime import date

import numpy as np
import xgboost as xgb

from addon.domain.scoring import contributions as contributions_module
from addon.domain.scoring import reasons as reasons_module
from addon.domain.scoring.contributions import contributions
from addon.domain.scoring.features import FEATURE_NAMES, FeatureBuilder, open_at
from addon.domain.scoring.history import HistoryInvoice, as_seen_at
from addon.domain.scoring.model import RiskModel, classifier_margin, model_matrix
from addon.domain.scoring.reasons import explain, explain_rows


def _features(history: list[HistoryInvoice], as_of: date) -> tuple[FeatureBuilder, list[tuple[HistoryInvoice, date]],
                                                                    np.ndarray]:
    builder = FeatureBuilder(as_seen_at(history, as_of))
    snaps = [(inv, as_of) for inv in open_at(history, as_of)]
    snaps += [(inv, date(2026, 1, 5)) for inv in history[:200]]  # older snapshots: other decision paths
    return builder, snaps, builder.matrix(snaps).values


def test_grouped_contributions_equal_pred_contribs(small_model: tuple[RiskModel, date],
                                                   small_history: list[HistoryInvoice], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    model, as_of = small_model
    _, _, x = _features(small_history, as_of)
    margin = classifier_margin(x)
    expected = model.classifier.predict(model_matrix(x, margin), pred_contribs=True)
    for per_call in (1, 7, 16):  # trees per XGBoost call, including a last partial group
        monkeypatch.setattr(contributions_module, "TREES_PER_CALL", per_call)
        got = contributions(model.classifier, x, margin, list(FEATURE_NAMES))
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)


def test_models_the_shortcut_does_not_cover_fall_back_to_xgboost(small_model: tuple[RiskModel, date],
                                                                 small_history: list[HistoryInvoice],
                                                                 monkeypatch) -> None:  # type: ignore[no-untyped-def]
    model, as_of = small_model
    _, _, x = _features(small_history, as_of)
    margin = classifier_margin(x)
    monkeypatch.setattr(contributions_module, "MAX_PATTERN_BITS", 1)
    np.testing.assert_array_equal(contributions(model.classifier, x, margin, list(FEATURE_NAMES)),
                                  model.classifier.predict(model_matrix(x, margin), pred_contribs=True))
    linear = xgb.train({"booster": "gblinear"}, xgb.DMatrix(x[:50], label=np.arange(50) % 2), 2)
    np.testing.assert_array_equal(contributions(linear, x[:50], np.zeros(50), [f"f{i}" for i in range(x.shape[1])]),
                                  linear.predict(xgb.DMatrix(x[:50], base_margin=np.zeros(50)), pred_contribs=True))


def test_reasons_for_all_rows_equal_reasons_row_by_row(small_model: tuple[RiskModel, date],
                                                       small_history: list[HistoryInvoice], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    model, as_of = small_model
    builder, snaps, _ = _features(small_history, as_of)
    features = builder.matrix(snaps)
    contribs = model._contributions(features)
    alone = [explain(features, n, contribs[n], builder, inv, day, 3) for n, (inv, day) in enumerate(snaps)]
    together = explain_rows(features, contribs, builder, snaps, 3)
    assert together == alone
    # Rows whose strongest features do not settle their phrases take their full order: the same phrases.
    monkeypatch.setattr(reasons_module, "_SCAN", 2)
    assert explain_rows(features, contribs, builder, snaps, 3) == alone
    assert sum(1 for why in together if why) > len(snaps) // 2


def test_one_output_of_the_quantile_models_equals_pred_contribs(small_model: tuple[RiskModel, date],
                                                                small_history: list[HistoryInvoice],
                                                                monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The payment-day models have three outputs (p10/p50/p90); each output's trees are a forest of their
    own, so one output's contributions take the same shortcut and equal XGBoost's ``[:, output]``."""
    from addon.domain.scoring.model import quantile_margin

    model, as_of = small_model
    _, _, x = _features(small_history, as_of)
    margin = quantile_margin(x)
    for booster in (model.median, model.quantiles):
        assert booster is not None
        expected = booster.predict(model_matrix(x, margin), pred_contribs=True)
        assert expected.shape == (len(x), 3, len(FEATURE_NAMES) + 1)
        for per_call in (1, 16):
            monkeypatch.setattr(contributions_module, "TREES_PER_CALL", per_call)
            for output in (0, 1, 2):
                got = contributions(booster, x, margin, list(FEATURE_NAMES), output=output)
                np.testing.assert_array_equal(got, expected[:, output, :])
                np.testing.assert_allclose(got.sum(axis=1), booster.predict(model_matrix(x, margin))[:, output],
                                           rtol=0, atol=1e-3)


def test_each_row_is_explained_by_the_model_its_score_comes_from(small_model: tuple[RiskModel, date],
                                                                 small_history: list[HistoryInvoice]) -> None:
    """Rows not yet due take the classifier's contributions, rows past due the payment-day model's p50
    (their P(late) is 1 whatever the classifier says); each row's, as if it were scored alone."""
    from addon.domain.scoring.features import feature_index
    from addon.domain.scoring.model import days_past_due, quantile_margin

    model, as_of = small_model
    builder, snaps, x = _features(small_history, as_of)
    overdue = days_past_due(x) > 0
    assert 0 < overdue.sum() < len(x)
    got = model._contributions(builder.matrix(snaps))
    margin = classifier_margin(x)
    due_expected = model.classifier.predict(model_matrix(x, margin), pred_contribs=True).astype(np.float64)
    due_expected[:, feature_index("cust_late_rate")] += margin - float(model.metadata.get("mean_margin", 0.0))
    np.testing.assert_array_equal(got[~overdue], due_expected[~overdue])
    start = quantile_margin(x)
    booster = model.median or model.quantiles
    days = booster.predict(model_matrix(x, start), pred_contribs=True)[:, 1, :].astype(np.float64)
    days[:, feature_index("cust_projected_delay")] += start[:, 1]
    np.testing.assert_array_equal(got[overdue], days[overdue])
