"""Time-split evaluation of the model against the ``customer_history`` baseline.

The latest ``test_fraction`` of invoices (by issue date) is the test set; the model trains on what was
known at the cut-off. Each test invoice is scored on its issue date with features known that day.
Outcomes are judged as of the last date in the file: P(late) where lateness is known (paid, or unpaid
past its due date), payment-day metrics where the invoice was paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from addon.domain.scoring.baseline import baseline_predictions
from addon.domain.scoring.features import FeatureBuilder
from addon.domain.scoring.history import HistoryInvoice, last_date
from addon.domain.scoring.metrics import (
    Predictions,
    Vector,
    all_metrics,
    band_probability,
    calibrated_ece_floor,
    paired_bootstrap_auc,
)
from addon.domain.scoring.model import RiskModel
from addon.domain.scoring.train import TrainConfig, train_model

ECE_MAX = 0.03
COVERAGE_80 = (0.78, 0.82)


@dataclass(frozen=True, slots=True)
class PredictionRow:
    """One test invoice's prediction, as written by ``--predictions-out``."""

    invoice_id: str
    p_late: float
    p10_days: float
    p50_days: float
    p90_days: float


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Metrics for model and baseline, the AUC-gap interval, and per-invoice predictions."""

    report: dict[str, Any]
    predictions: list[PredictionRow]
    model: RiskModel


def split_date(history: Sequence[HistoryInvoice], test_fraction: float) -> date:
    """First issue date of the test set: the latest ``test_fraction`` of invoices by issue date."""
    if not 0 < test_fraction < 1:
        raise ValueError("test fraction must be between 0 and 1")
    days = sorted(i.issue_date for i in history)
    if len(days) < 10:
        raise ValueError("need at least 10 invoices to evaluate")
    return days[min(len(days) - 1, int(len(days) * (1 - test_fraction)))]


def time_split(history: Sequence[HistoryInvoice], test_fraction: float
               ) -> tuple[date, date, list[HistoryInvoice]]:
    """The cut-off (first issue date of the test set), the last date in the file (outcomes are judged as of
    it) and the test invoices."""
    cutoff = split_date(history, test_fraction)
    return cutoff, last_date(history), [i for i in history if i.issue_date >= cutoff]


def evaluate(history: Sequence[HistoryInvoice], test_fraction: float = 0.25,
             config: TrainConfig | None = None, bootstrap_rounds: int = 1000) -> Evaluation:
    """Train before the cut-off, score the test invoices at issue, and compare with the baseline."""
    cutoff, end, test = time_split(history, test_fraction)
    model = train_model(history, cutoff, config)
    snaps = [(inv, inv.issue_date) for inv in test]
    builder = FeatureBuilder(history)  # point-in-time by construction: each row reads only its past
    snap = builder.snapshots(snaps)
    features = builder.matrix(snap)  # shared by the model and the baseline
    # Scored as the product scores: each day's adjustment from the outcomes known that day (see online).
    p, q = model.predict_adjusted(builder, snap, features)
    # Metrics use the rounded figures --predictions-out writes, so anyone can recompute them exactly.
    p, q = np.round(p, 4), np.round(q, 1)
    mine = Predictions(p, q[:, 0], q[:, 1], q[:, 2])
    base = baseline_predictions(builder, snaps, features)
    outcome = test_outcomes(test, end)
    report = {
        "cutoff": cutoff.isoformat(), "evaluated_as_of": end.isoformat(),
        "n_train": sum(1 for i in history if i.issue_date < cutoff and i.settled_before(cutoff)),
        **compare(mine, base, outcome, bootstrap_rounds),
        "model_version": model.version,
    }
    report["rescoring"] = rescoring(model, builder, test, end)
    report["targets_met"] = targets_met(report)
    rows = [PredictionRow(inv.invoice_id, round(float(p[n]), 4), round(float(q[n, 0]), 1),
                          round(float(q[n, 1]), 1), round(float(q[n, 2]), 1)) for n, inv in enumerate(test)]
    return Evaluation(report, rows, model)


@dataclass(frozen=True, slots=True)
class Outcomes:
    """What the file says happened to the test invoices, as of its last date: ``late`` where ``known`` (paid,
    or unpaid past its due date), ``actual`` days after the due date where ``paid``."""

    late: Vector
    known: npt.NDArray[np.bool_]
    paid: npt.NDArray[np.bool_]
    actual: Vector


def test_outcomes(test: Sequence[HistoryInvoice], end: date) -> Outcomes:
    return Outcomes(
        late=np.array([inv.paid_date is None or inv.paid_date > inv.due_date for inv in test], dtype=float),
        known=np.array([inv.paid_date is not None or inv.due_date < end for inv in test], dtype=bool),
        paid=np.array([inv.paid_date is not None for inv in test], dtype=bool),
        actual=np.array([inv.delay_days() if inv.paid_date else 0 for inv in test], dtype=float))


def compare(mine: Predictions, base: Predictions, outcome: Outcomes, bootstrap_rounds: int = 1000
            ) -> dict[str, Any]:
    """The report's test-set counts, both methods' metrics, the AUC gap's interval and the noise floor."""
    late, known, paid, actual = outcome.late, outcome.known, outcome.paid, outcome.actual
    diff, lo, hi = paired_bootstrap_auc(late[known], mine.p_late[known], base.p_late[known], bootstrap_rounds)
    return {
        "n_test": len(late), "n_test_labelled": int(known.sum()), "n_test_paid": int(paid.sum()),
        "test_late_rate": round(float(late[known].mean()), 4) if known.any() else None,
        "model": all_metrics(mine, late, known, actual, paid),
        "customer_history": all_metrics(base, late, known, actual, paid),
        "roc_auc_difference": {"estimate": round(diff, 4), "ci95_low": round(lo, 4), "ci95_high": round(hi, 4)},
        # How far sampling noise alone moves the noisy targets on a test set this size (see metrics).
        "sampling_noise": {
            "ece_if_perfectly_calibrated": round(calibrated_ece_floor(mine.p_late[known]), 4),
            "coverage_80_in_band_if_exact": round(band_probability(int(paid.sum()), 0.8, *COVERAGE_80), 4),
        },
    }


RESCORE_DAYS = (7, 14, 30)  # days past due at which unpaid test invoices are scored again
RESCORE_HORIZON = 90  # ... if the file runs at least this long after: their outcome is then known


def rescoring(model: RiskModel, builder: FeatureBuilder, test: Sequence[HistoryInvoice], end: date
              ) -> dict[str, dict[str, float | int | None]]:
    """How the model does when an invoice still unpaid ``d`` days past due is scored again (what the
    nightly run does every day): per ``d``, the test invoices unpaid then and due early enough that the
    file runs ``RESCORE_HORIZON`` days past that day. ``coverage_80`` counts one still unpaid at the end
    of the file as paid after p90; ``within_5d`` and ``mae_days`` are over the paid ones."""
    out: dict[str, dict[str, float | int | None]] = {}
    for d in RESCORE_DAYS:
        rows = [i for i in test if i.due_date + timedelta(days=d + RESCORE_HORIZON) <= end
                and not i.settled_before(i.due_date + timedelta(days=d))]
        if not rows:
            out[str(d)] = {"n": 0, "n_paid": 0, "coverage_80": None, "within_5d": None, "mae_days": None}
            continue
        snap = builder.snapshots([(i, i.due_date + timedelta(days=d)) for i in rows])
        q = np.round(model.predict_adjusted(builder, snap, builder.matrix(snap))[1], 1)
        paid = np.array([i.paid_date is not None for i in rows], dtype=bool)
        actual = np.array([i.delay_days() if i.paid_date else np.inf for i in rows], dtype=float)
        miss = np.abs(q[paid, 1] - actual[paid])
        out[str(d)] = {"n": len(rows), "n_paid": int(paid.sum()),
                       "coverage_80": round(float(((q[:, 0] <= actual) & (actual <= q[:, 2])).mean()), 4),
                       "within_5d": round(float((miss <= 5).mean()), 4) if paid.any() else None,
                       "mae_days": round(float(miss.mean()), 4) if paid.any() else None}
    return out


def targets_met(report: dict[str, Any]) -> dict[str, bool]:
    """The issue's targets, checked against an evaluation report."""
    m, b, d = report["model"], report["customer_history"], report["roc_auc_difference"]
    lo, hi = COVERAGE_80
    return {
        "auc_beats_baseline": bool(d["ci95_low"] > 0),
        "ece": bool(m["ece"] <= ECE_MAX),
        "coverage_80": bool(lo <= m["coverage_80"] <= hi),
        "within_5d_beats_baseline": bool(m["within_5d"] > b["within_5d"]),
    }
