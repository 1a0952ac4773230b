"""Training: point-in-time snapshots -> XGBoost classifier + quantile model -> recent-window recalibration.

Each invoice contributes a snapshot at issue and at checkpoints around its due date *while it was still
unpaid*, so the model learns "given it is still open today" and re-scoring an overdue invoice means
something. Labels only use what was known at ``as_of``:

- P(late) rows: invoices whose due date passed before ``as_of`` (paid by then or not, the on-time/late
  outcome is known); invoices not yet due are left out so recent late payers are not under-counted.
- Payment-day rows: invoices settled before ``as_of`` (the delay is observed).

The most recent ``calibration_fraction`` of invoices (by issue date) is held out of the fit and used
to recalibrate: isotonic/Platt for P(late), conformalised quantiles for the 80% interval.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import xgboost as xgb

from addon.domain.scoring.calibration import (
    IntervalCalibrator,
    ProbabilityCalibrator,
    fit_interval_calibrator,
    fit_probability_calibrator,
)
from addon.domain.scoring.features import FEATURE_NAMES, FeatureBuilder, feature_index
from addon.domain.scoring.history import HistoryInvoice, as_seen_at
from addon.domain.scoring.model import RiskModel, classifier_margin, model_matrix, quantile_margin

Vector = npt.NDArray[np.float64]
QUANTILES = (0.1, 0.5, 0.9)
MIN_LABELLED = 40
MIN_OWN_HISTORY = 300  # settled invoices before a tenant gets a model of its own, without the prior
MIN_OWN_CALIBRATION = 150


class NotEnoughHistoryError(ValueError):
    """Too little labelled history to train (and no prior to lean on)."""


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Hyper-parameters; small trees and few rounds keep training to seconds on two cores."""

    classifier_rounds: int = 160
    quantile_rounds: int = 200
    max_depth: int = 4
    eta: float = 0.07
    min_child_weight: float = 3.0
    subsample: float = 0.85
    # One thread by default: on a shared, busy machine OpenMP threads spin-wait for each other and two
    # threads can be many times slower than one. Raise it on a dedicated worker.
    nthread: int = 1
    seed: int = 0
    calibration_fraction: float = 0.25
    checkpoints: tuple[int, ...] = (-7, 0, 7, 14, 30, 60, 90)  # days relative to due date
    prior_weight: float = 0.5
    delay_horizon_days: int = 90
    # Also fit a payment-day model on every row (calibration window included) and take the p50 from it,
    # so the point estimate sees the newest behaviour (drifting customers). p10/p90 stay with the
    # held-out model their conformal offsets were measured on, and the classifier is not refit: a
    # calibration map is only valid for the exact model it was fitted against.
    refit: bool = True
    # P(late) calibration is cross-fitted: the labelled rows are cut into this many blocks by issue
    # date, each block is scored by a classifier trained without it, and the map is fitted on those
    # out-of-fold scores from the newest ``probability_window`` of invoices. The classifier itself is
    # then trained on every row, so it sees the newest behaviour. 0 restores a single held-out window.
    calibration_folds: int = 4
    probability_window: float = 0.5
    forward_folds: bool = False
    crossfit_intervals: bool = False
    probability_method: str = "auto"  # "auto" (isotonic with enough rows, else Platt), "isotonic", "platt"


@dataclass(slots=True)
class _Rows:
    """Feature rows and targets from one history, split into fit and calibration parts."""

    x: list[Vector] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    overdue: list[bool] = field(default_factory=list)
    recent: list[bool] = field(default_factory=list)
    issued: list[int] = field(default_factory=list)

    def add(self, x: Vector, y: float, overdue: bool, recent: bool, issued: int = 0) -> None:
        self.x.append(x)
        self.y.append(y)
        self.overdue.append(overdue)
        self.recent.append(recent)
        self.issued.append(issued)

    def blocks(self, k: int) -> npt.NDArray[np.int64]:
        """Block 0..k-1 of each row: contiguous issue-date ranges of about equal size.

        Cut points are dates, so every snapshot of one invoice falls in the same block.
        """
        issued = np.array(self.issued, dtype=np.float64)
        if not len(issued):
            return np.zeros(0, dtype=np.int64)
        cuts = np.quantile(issued, np.arange(1, k) / k)
        return np.searchsorted(cuts, issued, side="right").astype(np.int64)

    def part(self, recent: bool | None) -> tuple[Vector, Vector, npt.NDArray[np.bool_]]:
        keep = [i for i, r in enumerate(self.recent) if recent is None or r == recent]
        x = np.array([self.x[i] for i in keep]).reshape(len(keep), len(FEATURE_NAMES))
        return x, np.array([self.y[i] for i in keep]), np.array([self.overdue[i] for i in keep], dtype=bool)


def snapshot_days(inv: HistoryInvoice, checkpoints: Sequence[int]) -> list[date]:
    """Issue date plus the due-date checkpoints at which ``inv`` was still unpaid."""
    days = [inv.issue_date]
    for offset in checkpoints:
        day = inv.due_date + timedelta(days=offset)
        if day > inv.issue_date and not inv.settled_before(day):
            days.append(day)
    return days


def _recent_from(days: list[date], fraction: float) -> date:
    days = sorted(days)
    return days[int(len(days) * (1 - fraction))] if days else date.max


def _collect(history: Sequence[HistoryInvoice], as_of: date, config: TrainConfig) -> tuple[_Rows, _Rows]:
    visible = as_seen_at(history, as_of)
    builder = FeatureBuilder(visible)
    # Payment days are learnt only from invoices due at least `horizon` days before as_of: taking only
    # the *paid* ones among recent invoices would keep the fast payers and teach the model that
    # customers pay sooner than they do. Still-unpaid ones enter with their delay so far (a lower bound).
    delay_cut = as_of - timedelta(days=config.delay_horizon_days)
    late_recent = _recent_from([i.issue_date for i in visible if i.due_date < as_of], config.calibration_fraction)
    delay_recent = _recent_from([i.issue_date for i in visible if i.due_date < delay_cut],
                                config.calibration_fraction)
    late_rows, delay_rows = _Rows(), _Rows()
    for inv in visible:
        delay = ((inv.paid_date or as_of) - inv.due_date).days
        for day in snapshot_days(inv, config.checkpoints):
            if day >= as_of:
                continue
            x = builder.row(inv, day)
            past_due = day > inv.due_date
            if inv.due_date < as_of and not past_due:
                late = float(inv.paid_date is None or inv.paid_date > inv.due_date)
                late_rows.add(x, late, False, inv.issue_date >= late_recent, inv.issue_date.toordinal())
            if inv.due_date < delay_cut:
                # the target is the time still to come: delay minus days already past due
                remaining = delay - max(0, (day - inv.due_date).days)
                delay_rows.add(x, float(remaining), past_due, inv.issue_date >= delay_recent,
                               inv.issue_date.toordinal())
    return late_rows, delay_rows


def _params(config: TrainConfig, **extra: Any) -> dict[str, Any]:
    return {"max_depth": config.max_depth, "eta": config.eta, "min_child_weight": config.min_child_weight,
            "subsample": config.subsample, "nthread": config.nthread, "seed": config.seed,
            "tree_method": "hist", **extra}


def _fit(dm: xgb.DMatrix, rounds: int, params: dict[str, Any]) -> xgb.Booster:
    return xgb.train(params, dm, num_boost_round=rounds)


def _stack(own: _Rows, priors: list[_Rows], recent: bool | None, weight: float
           ) -> tuple[Vector, Vector, Vector, npt.NDArray[np.bool_]]:
    parts = [(*own.part(recent), 1.0)] + [(*p.part(recent), weight) for p in priors]
    x = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    w = np.concatenate([np.full(len(p[1]), p[3]) for p in parts])
    return x, y, w, np.concatenate([p[2] for p in parts])


def _fit_both(own_late: _Rows, prior_late: list[_Rows], own_delay: _Rows, prior_delay: list[_Rows],
              config: TrainConfig, recent: bool | None, classifier: bool = True
              ) -> tuple[xgb.Booster | None, xgb.Booster, Vector]:
    x, y, w, _ = _stack(own_late, prior_late, recent, config.prior_weight)
    margin = classifier_margin(x)
    clf = _fit(model_matrix(x, margin, y, w, config.nthread), config.classifier_rounds,
               _params(config, objective="binary:logistic", eval_metric="logloss")) if classifier else None
    xq, yq, wq, _ = _stack(own_delay, prior_delay, recent, config.prior_weight)
    quantiles = _fit(model_matrix(xq, quantile_margin(xq), yq, wq, config.nthread), config.quantile_rounds,
                     _params(config, objective="reg:quantileerror", quantile_alpha=list(QUANTILES)))
    return clf, quantiles, margin


def _crossfit_classifier(own: _Rows, priors: list[_Rows], config: TrainConfig, own_calib: bool
                         ) -> tuple[xgb.Booster, ProbabilityCalibrator, Vector]:
    """Classifier on every row plus a probability map fitted on out-of-fold scores of the newest rows."""
    k = config.calibration_folds
    window_blocks = max(1, round(k * config.probability_window))
    parts = [(own, 1.0, True)] + [(p, config.prior_weight, False) for p in priors]
    xs, ys, ws, blocks, calib = [], [], [], [], []
    for rows, weight, is_own in parts:
        x, y, _ = rows.part(None)
        block = rows.blocks(k)
        xs.append(x)
        ys.append(y)
        ws.append(np.full(len(y), weight))
        blocks.append(block)
        # The map is fitted on rows scored at issue (how every invoice is first scored) in the newest
        # blocks, from the tenant's own history once it has enough of it.
        at_issue = x[:, feature_index("age_days")] == 0
        calib.append(at_issue & (block >= k - window_blocks) & (is_own or not own_calib))
    x, y, w, block = np.vstack(xs), np.concatenate(ys), np.concatenate(ws), np.concatenate(blocks)
    use = np.concatenate(calib)
    margin = classifier_margin(x)
    params = _params(config, objective="binary:logistic", eval_metric="logloss")
    oof = np.full(len(y), np.nan)
    for b in range(k):
        out = block == b
        if not (use & out).any() or out.all():
            continue
        fit = block < b if config.forward_folds else ~out
        if not fit.any():
            continue
        model = _fit(model_matrix(x[fit], margin[fit], y[fit], w[fit], config.nthread),
                     config.classifier_rounds, params)
        oof[out] = model.predict(model_matrix(x[out], margin[out])).astype(np.float64)
    use &= ~np.isnan(oof)
    probability = fit_probability_calibrator(oof[use], y[use], config.probability_method)
    classifier = _fit(model_matrix(x, margin, y, w, config.nthread), config.classifier_rounds, params)
    return classifier, probability, margin


def _crossfit_quantiles(own: _Rows, priors: list[_Rows], config: TrainConfig, own_calib: bool
                        ) -> tuple[xgb.Booster, IntervalCalibrator]:
    """Payment-day model on every row plus CQR offsets measured on out-of-fold predictions."""
    k = config.calibration_folds
    window_blocks = max(1, round(k * config.probability_window))
    parts = [(own, 1.0, True)] + [(p, config.prior_weight, False) for p in priors]
    xs, ys, ws, blocks, stages, calib = [], [], [], [], [], []
    for rows, weight, is_own in parts:
        x, y, stage = rows.part(None)
        block = rows.blocks(k)
        xs.append(x)
        ys.append(y)
        ws.append(np.full(len(y), weight))
        blocks.append(block)
        stages.append(stage)
        # Stage 0 offsets come from rows scored at issue; rows scored later but before the due date
        # are conditioned differently and are left out.
        at_issue = x[:, feature_index("age_days")] == 0
        calib.append((at_issue | stage) & (block >= k - window_blocks) & (is_own or not own_calib))
    x, y, w, block = np.vstack(xs), np.concatenate(ys), np.concatenate(ws), np.concatenate(blocks)
    stage, use = np.concatenate(stages), np.concatenate(calib)
    margin = quantile_margin(x)
    params = _params(config, objective="reg:quantileerror", quantile_alpha=list(QUANTILES))
    oof = np.full((len(y), len(QUANTILES)), np.nan)
    for b in range(k):
        out = block == b
        fit = block < b if config.forward_folds else ~out
        if not (use & out).any() or not fit.any():
            continue
        model = _fit(model_matrix(x[fit], margin[fit], y[fit], w[fit], config.nthread), config.quantile_rounds,
                     params)
        pred = model.predict(model_matrix(x[out], margin[out])).reshape(int(out.sum()), -1)
        oof[out] = np.sort(pred.astype(np.float64), axis=1)
    use &= ~np.isnan(oof[:, 0])
    interval = fit_interval_calibrator(oof[use, 0], oof[use, -1], y[use], stage[use])
    quantiles = _fit(model_matrix(x, margin, y, w, config.nthread), config.quantile_rounds, params)
    return quantiles, interval


def train_model(history: Sequence[HistoryInvoice], as_of: date, config: TrainConfig | None = None,
                prior: Sequence[tuple[Sequence[HistoryInvoice], date]] = ()) -> RiskModel:
    """Train on what was known at ``as_of``; ``prior`` histories (pooled, down-weighted) help cold starts."""
    config = config or TrainConfig()
    own_late, own_delay = _collect(history, as_of, config)
    collected = [_collect(h, d, config) for h, d in prior]
    prior_late, prior_delay = [c[0] for c in collected], [c[1] for c in collected]
    if len(own_late.y) + sum(len(p.y) for p in prior_late) < MIN_LABELLED:
        raise NotEnoughHistoryError(f"need at least {MIN_LABELLED} invoices past their due date to train")
    # Calibrate on the tenant's own recent window when it is big enough, else pool in the priors'.
    own_calib = sum(own_late.recent) >= MIN_OWN_CALIBRATION
    calib_priors_late = [] if own_calib else prior_late
    calib_priors_delay = [] if own_calib else prior_delay
    crossfit = config.calibration_folds >= 2
    clf, quantiles, margin = _fit_both(own_late, prior_late, own_delay, prior_delay, config, False,
                                       classifier=not crossfit)
    if crossfit:
        classifier, probability, margin = _crossfit_classifier(own_late, prior_late, config, own_calib)
    else:
        assert clf is not None
        classifier = clf
        xc, yc, _, _ = _stack(own_late, calib_priors_late, True, 1.0)
        # Calibrate on rows scored at issue, the moment every invoice is first scored; rows scored at a
        # checkpoint are conditioned on "still unpaid" and would bend one shared map towards them.
        first = xc[:, feature_index("age_days")] == 0
        xc, yc = xc[first], yc[first]
        raw_p = classifier.predict(model_matrix(xc, classifier_margin(xc))).astype(np.float64)
        probability = fit_probability_calibrator(raw_p, yc)
    median = None
    if crossfit and config.crossfit_intervals:
        quantiles, interval = _crossfit_quantiles(own_delay, prior_delay, config, own_calib)
    else:
        xd, yd, _, stage = _stack(own_delay, calib_priors_delay, True, 1.0)
        raw_q = quantiles.predict(model_matrix(xd, quantile_margin(xd)))
        raw_q = np.sort(raw_q.reshape(len(yd), -1).astype(np.float64), axis=1)
        # Stage 0 conformal offsets come from rows scored at issue (how invoices are first scored);
        # rows scored later but before the due date are conditioned differently and are left out.
        at_issue = xd[:, feature_index("age_days")] == 0
        keep = at_issue | stage
        interval = fit_interval_calibrator(raw_q[keep, 0], raw_q[keep, -1], yd[keep], stage[keep])
    if config.refit and not (crossfit and config.crossfit_intervals):
        _, median, _ = _fit_both(own_late, prior_late, own_delay, prior_delay, config, None, classifier=False)
    meta = _metadata(history, as_of, config, own_late, own_delay, len(prior), own_calib)
    meta["mean_margin"] = float(margin.mean())
    return RiskModel(classifier, quantiles, probability, interval, meta, median)


def _metadata(history: Sequence[HistoryInvoice], as_of: date, config: TrainConfig, late: _Rows,
              delay: _Rows, priors: int, own_calib: bool) -> dict[str, Any]:
    start = min((i.issue_date for i in history if i.issue_date < as_of), default=as_of)
    digest = hashlib.sha256(f"{as_of}|{len(history)}|{start}|{asdict(config)}".encode()).hexdigest()[:10]
    return {
        "version": f"{as_of.isoformat()}-{digest}",
        "training_window": {"start": start.isoformat(), "end": as_of.isoformat()},
        "rows": {"late": len(late.y), "delay": len(delay.y), "calibration": int(sum(late.recent))},
        "late_rate": float(np.mean(late.y)) if late.y else None,
        "prior_histories": priors,
        "calibrated_on": "own" if own_calib else "pooled",
        "config": asdict(config),
        "metrics": {},
    }


def needs_prior(history: Sequence[HistoryInvoice], as_of: date, minimum: int = MIN_OWN_HISTORY) -> bool:
    """True while a tenant has too few settled invoices for a model of its own (cold start)."""
    return sum(1 for i in history if i.settled_before(as_of)) < minimum
