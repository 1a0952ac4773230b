"""The retraining quality gate: a freshly trained model replaces the active one only if it is not worse
on the tenant's newest labelled invoices.

A retrain can go wrong without failing: a sync that mangled payment dates, an import of another
company's ledger, a release that regressed. Scoring every open invoice with such a model would change
bands and write them back to the ERP. So both models score the same held-out invoices (each at its
issue date, with what was known that day, as ``cashline model evaluate`` does) and the candidate is
kept inactive when its Brier score is worse by more than the Brier tolerance or its ROC AUC lower by
more than the AUC tolerance (``GateTolerances``: SCORING_GATE_BRIER_TOLERANCE, SCORING_GATE_AUC_TOLERANCE,
0.005 and 0.01 by default). The tolerances absorb sampling noise on a few hundred invoices; the gate is
meant to catch a broken model, not to rank two good ones.

The held-out invoices are the candidate's first calibration window: the newest ``calibration_fraction``
of the invoices whose due date has passed (by issue date). The candidate's trees were not fitted on
them, but its probability map was, and a week-old active model saw the older part of them in training;
neither is a clean out-of-sample test, and both lean the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from addon.domain.scoring.features import FeatureBuilder
from addon.domain.scoring.history import HistoryInvoice, as_seen_at
from addon.domain.scoring.metrics import day_metrics, probability_metrics
from addon.domain.scoring.model import RiskModel

MIN_HELD_OUT = 50  # fewer labelled invoices than this cannot tell two models apart: activate
# A big book's comparison is cut to its newest invoices: 20,000 tell two models apart to well within the
# tolerances, and scoring a quarter of a million-invoice history twice would dwarf the rest of a retrain.
MAX_HELD_OUT = 20_000


@dataclass(frozen=True, slots=True)
class GateTolerances:
    """How much worse than the active model a candidate may be and still be activated."""

    brier: float = 0.005  # Brier score of P(late), higher is worse
    auc: float = 0.01  # ROC AUC of P(late), lower is worse

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GateTolerances:
        """The tolerances as the app is configured (validated by ``addon.config.load_config``)."""
        default = DEFAULT_TOLERANCES
        return cls(brier=float(config.get("SCORING_GATE_BRIER_TOLERANCE", default.brier)),
                   auc=float(config.get("SCORING_GATE_AUC_TOLERANCE", default.auc)))

    def as_dict(self) -> dict[str, float]:
        return {"brier": self.brier, "roc_auc": self.auc}


DEFAULT_TOLERANCES = GateTolerances()


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Whether to activate the candidate, why, and both models' figures on the held-out invoices."""

    passed: bool
    reason: str
    candidate: dict[str, float | None] | None = None
    active: dict[str, float | None] | None = None


def held_out(history: Sequence[HistoryInvoice], today: date, fraction: float) -> list[HistoryInvoice]:
    """The newest ``fraction`` (by issue date) of the invoices due before ``today``, as seen ``today``, at
    most the newest ``MAX_HELD_OUT``."""
    labelled = sorted((i for i in as_seen_at(history, today) if i.due_date < today), key=lambda i: i.issue_date)
    if not labelled:
        return []
    start = labelled[min(len(labelled) - 1, int(len(labelled) * (1 - fraction)))].issue_date
    return [i for i in labelled if i.issue_date >= start][-MAX_HELD_OUT:]


def held_out_metrics(model: RiskModel, builder: FeatureBuilder, test: Sequence[HistoryInvoice]
                     ) -> dict[str, float | None]:
    """ROC AUC and Brier of P(late), and coverage of the 80% interval over the paid ones, each invoice
    scored at issue with the scoring-time adjustment (the numbers the product would have shown)."""
    snap = builder.snapshots([(inv, inv.issue_date) for inv in test])
    p, q = model.predict_adjusted(builder, snap, builder.matrix(snap))
    late = np.array([inv.paid_date is None or inv.paid_date > inv.due_date for inv in test], dtype=np.float64)
    paid = np.array([inv.paid_date is not None for inv in test], dtype=bool)
    actual = np.array([inv.delay_days() or 0 for inv in test], dtype=np.float64)
    figures = probability_metrics(p, late)
    figures.update(day_metrics(q[paid, 0], q[paid, 1], q[paid, 2], actual[paid]))
    # JSON (and PostgreSQL's jsonb) have no NaN: an undefined metric (one class only) is stored as null.
    out: dict[str, float | None] = {k: None if math.isnan(figures[k]) else round(figures[k], 4)
                                    for k in ("roc_auc", "brier", "coverage_80")}
    out["n"] = len(test)
    return out


def compare(candidate: RiskModel, active: RiskModel, history: Sequence[HistoryInvoice], today: date,
            fraction: float, tolerances: GateTolerances = DEFAULT_TOLERANCES) -> GateDecision:
    """Score the held-out invoices with both models and decide (see the module docstring)."""
    test = held_out(history, today, fraction)
    if len(test) < MIN_HELD_OUT:
        return GateDecision(True, f"only {len(test)} held-out invoices: too few to compare, activated")
    builder = FeatureBuilder(as_seen_at(history, today))  # point-in-time: each row reads only its past
    mine, theirs = held_out_metrics(candidate, builder, test), held_out_metrics(active, builder, test)
    worse = _worse(mine, theirs, tolerances)
    reason = "; ".join(worse) if worse else "not worse than the active model on the held-out invoices"
    return GateDecision(not worse, reason, mine, theirs)


def _worse(mine: dict[str, float | None], theirs: dict[str, float | None], tolerances: GateTolerances
           ) -> list[str]:
    """What makes the candidate worse than the active model beyond the tolerances (empty: it is not).

    Coverage is recorded, not judged: only paid invoices have a payment day, and in the newest window
    those are the fast payers, so coverage there says little about either model.
    """
    out = []
    brier, their_brier = mine["brier"], theirs["brier"]
    if brier is not None and their_brier is not None and brier > their_brier + tolerances.brier:
        out.append(f"Brier {brier:.4f} vs {their_brier:.4f} for the active model "
                   f"(worse by more than {tolerances.brier})")
    auc, their_auc = mine["roc_auc"], theirs["roc_auc"]
    if auc is not None and their_auc is not None and auc < their_auc - tolerances.auc:
        out.append(f"ROC AUC {auc:.4f} vs {their_auc:.4f} for the active model (lower by more than {tolerances.auc})")
    return out
