"""Training: point-in-time snapshots -> XGBoost classifier + quantile model -> recent-window recalibration.

Each invoice contributes a snapshot at issue and at checkpoints around its due date *while it was still
unpaid*, so the model learns "given it is still open today" and re-scoring an overdue invoice means
something. Labels only use what was known at ``as_of``:

- P(late) rows: invoices whose due date passed before ``as_of`` (paid by then or not, the on-time/late
  outcome is known); invoices not yet due are left out so recent late payers are not under-counted.
- Payment-day rows: invoices settled before ``as_of`` (the delay is observed).

The most recent ``calibration_fraction`` of invoices (by issue date) is held out of the fit and used
to recalibrate: isotonic/Platt for P(late), conformalised quantiles for the 80% interval. P(late) is the
mean of two such calibrated classifiers whose held-out windows are staggered (``calibration_offsets``),
so one window's season or one isotonic fit's noise does not set the whole scale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import xgboost as xgb

from addon.domain.scoring.calibration import (
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
    # P(late) averages one calibrated classifier per offset. Each holds out the ``calibration_fraction``
    # window that ends ``offset`` (a fraction of the labelled invoices) before the newest, trains on every
    # other row and keeps its own isotonic map. One window of the newest quarter is half a year: a
    # seasonal customer is in season in it and out of season in the months scored next, and the map
    # lifted the middle of the scale (ECE above 0.03 on five of 27 generated sets). A second window
    # staggered by an eighth spans other months; with the mean, one set of 27 misses and the AUC interval
    # holds on all (docs/risk-model.md, "Staggered calibration windows"). The first member gives the reasons.
    calibration_offsets: tuple[float, ...] = (0.0, 0.125)
    checkpoints: tuple[int, ...] = (-7, 0, 7, 14, 30, 60, 90)  # days relative to due date
    prior_weight: float = 0.5
    delay_horizon_days: int = 90
    # Also fit a payment-day model on every row (calibration window included) and take the p50 from it,
    # so the point estimate sees the newest behaviour (drifting customers). p10/p90 stay with the
    # held-out model their conformal offsets were measured on, and the classifier is not refit: a
    # calibration map is only valid for the exact model it was fitted against.
    refit: bool = True


@dataclass(slots=True)
class _Rows:
    """Feature rows and targets from one history, split into fit and calibration parts.

    ``windows`` holds one calibration window per member, as [start, end) issue-date ordinals.
    """

    windows: list[tuple[int, int]]
    x: list[Vector] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    overdue: list[bool] = field(default_factory=list)
    issued: list[int] = field(default_factory=list)

    def add(self, x: Vector, y: float, overdue: bool, issued: date) -> None:
        self.x.append(x)
        self.y.append(y)
        self.overdue.append(overdue)
        self.issued.append(issued.toordinal())

    def in_window(self, member: int = 0) -> npt.NDArray[np.bool_]:
        """Which rows fall in ``member``'s calibration window."""
        start, end = self.windows[member]
        issued = np.array(self.issued, dtype=np.int64)
        return (issued >= start) & (issued < end)

    def part(self, recent: bool | None, member: int = 0) -> tuple[Vector, Vector, npt.NDArray[np.bool_]]:
        """Rows inside (``recent``), outside (not ``recent``) or regardless of (None) a member's window."""
        keep = np.flatnonzero(np.ones(len(self.y), dtype=bool) if recent is None
                              else self.in_window(member) == recent)
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


def _window(days: list[date], fraction: float, offset: float = 0.0) -> tuple[int, int]:
    """[start, end) issue ordinals of the ``fraction`` of ``days`` that ends ``offset`` before the newest."""
    days = sorted(days)
    if not days:
        return date.max.toordinal(), date.max.toordinal()
    start = days[max(0, int(len(days) * (1 - offset - fraction)))].toordinal()
    end = days[int(len(days) * (1 - offset))].toordinal() if offset > 0 else date.max.toordinal()
    return start, end


def _collect(history: Sequence[HistoryInvoice], as_of: date, config: TrainConfig) -> tuple[_Rows, _Rows]:
    visible = as_seen_at(history, as_of)
    builder = FeatureBuilder(visible)
    # Payment days are learnt only from invoices due at least `horizon` days before as_of: taking only
    # the *paid* ones among recent invoices would keep the fast payers and teach the model that
    # customers pay sooner than they do. Still-unpaid ones enter with their delay so far (a lower bound).
    delay_cut = as_of - timedelta(days=config.delay_horizon_days)
    late_days = [i.issue_date for i in visible if i.due_date < as_of]
    late_rows = _Rows([_window(late_days, config.calibration_fraction, offset)
                       for offset in config.calibration_offsets])
    delay_rows = _Rows([_window([i.issue_date for i in visible if i.due_date < delay_cut],
                                config.calibration_fraction)])
    snapshots = [(inv, day) for inv in visible for day in snapshot_days(inv, config.checkpoints) if day < as_of]
    values = builder.matrix(snapshots).values  # every snapshot's features in one vectorised pass
    for (inv, day), x in zip(snapshots, values, strict=True):
        delay = ((inv.paid_date or as_of) - inv.due_date).days
        past_due = day > inv.due_date
        if inv.due_date < as_of and not past_due:
            late = float(inv.paid_date is None or inv.paid_date > inv.due_date)
            late_rows.add(x, late, False, inv.issue_date)
        if inv.due_date < delay_cut:
            # the target is the time still to come: delay minus days already past due
            remaining = delay - max(0, (day - inv.due_date).days)
            delay_rows.add(x, float(remaining), past_due, inv.issue_date)
    return late_rows, delay_rows


def _params(config: TrainConfig, **extra: Any) -> dict[str, Any]:
    return {"max_depth": config.max_depth, "eta": config.eta, "min_child_weight": config.min_child_weight,
            "subsample": config.subsample, "nthread": config.nthread, "seed": config.seed,
            "tree_method": "hist", **extra}


def _fit(dm: xgb.DMatrix, rounds: int, params: dict[str, Any]) -> xgb.Booster:
    return xgb.train(params, dm, num_boost_round=rounds)


def _stack(own: _Rows, priors: list[_Rows], recent: bool | None, weight: float, member: int = 0
           ) -> tuple[Vector, Vector, Vector, npt.NDArray[np.bool_]]:
    parts = [(*own.part(recent, member), 1.0)] + [(*p.part(recent, member), weight) for p in priors]
    x = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    w = np.concatenate([np.full(len(p[1]), p[3]) for p in parts])
    return x, y, w, np.concatenate([p[2] for p in parts])


def _fit_classifier(own_late: _Rows, prior_late: list[_Rows], config: TrainConfig, recent: bool | None,
                    member: int = 0) -> tuple[xgb.Booster, Vector]:
    x, y, w, _ = _stack(own_late, prior_late, recent, config.prior_weight, member)
    margin = classifier_margin(x)
    clf = _fit(model_matrix(x, margin, y, w, config.nthread), config.classifier_rounds,
               _params(config, objective="binary:logistic", eval_metric="logloss"))
    return clf, margin


def _calibrate_classifier(clf: xgb.Booster, own_late: _Rows, calib_priors: list[_Rows],
                          member: int) -> ProbabilityCalibrator:
    """Map ``clf``'s raw P(late) to observed late rates on ``member``'s held-out window."""
    xc, yc, _, _ = _stack(own_late, calib_priors, True, 1.0, member)
    # Calibrate on rows scored at issue, the moment every invoice is first scored; rows scored at a
    # checkpoint are conditioned on "still unpaid" and would bend one shared map towards them.
    first = xc[:, feature_index("age_days")] == 0
    xc, yc = xc[first], yc[first]
    raw_p = clf.predict(model_matrix(xc, classifier_margin(xc))).astype(np.float64)
    return fit_probability_calibrator(raw_p, yc)


def _fit_both(own_late: _Rows, prior_late: list[_Rows], own_delay: _Rows, prior_delay: list[_Rows],
              config: TrainConfig, recent: bool | None, classifier: bool = True
              ) -> tuple[xgb.Booster | None, xgb.Booster, Vector]:
    clf, margin = _fit_classifier(own_late, prior_late, config, recent) if classifier else (None, np.zeros(0))
    xq, yq, wq, _ = _stack(own_delay, prior_delay, recent, config.prior_weight)
    quantiles = _fit(model_matrix(xq, quantile_margin(xq), yq, wq, config.nthread), config.quantile_rounds,
                     _params(config, objective="reg:quantileerror", quantile_alpha=list(QUANTILES)))
    return clf, quantiles, margin


def train_model(history: Sequence[HistoryInvoice], as_of: date, config: TrainConfig | None = None,
                prior: Sequence[tuple[Sequence[HistoryInvoice], date]] = ()) -> RiskModel:
    """Train on what was known at ``as_of``; ``prior`` histories (pooled, down-weighted) help cold starts."""
    config = config or TrainConfig()
    own_late, own_delay = _collect(history, as_of, config)
    collected = [_collect(h, d, config) for h, d in prior]
    prior_late, prior_delay = [c[0] for c in collected], [c[1] for c in collected]
    if len(own_late.y) + sum(len(p.y) for p in prior_late) < MIN_LABELLED:
        raise NotEnoughHistoryError(f"need at least {MIN_LABELLED} invoices past their due date to train")
    if len(own_delay.y) + sum(len(p.y) for p in prior_delay) < MIN_LABELLED:
        # Payment days are learnt from invoices due delay_horizon_days before as_of (see _collect).
        raise NotEnoughHistoryError(
            f"need at least {MIN_LABELLED} invoices due {config.delay_horizon_days}+ days before {as_of} to learn "
            f"payment days; this history has {len(own_delay.y)} such rows: load a longer history")
    # Calibrate on the tenant's own recent window when it is big enough, else pool in the priors'. Each
    # model decides for itself: a short busy history has a full P(late) window and no payment-day one.
    own_calib_late = int(own_late.in_window().sum()) >= MIN_OWN_CALIBRATION
    own_calib_delay = int(own_delay.in_window().sum()) >= MIN_OWN_CALIBRATION
    own_calib = own_calib_late and own_calib_delay
    calib_priors_late = [] if own_calib_late else prior_late
    calib_priors_delay = [] if own_calib_delay else prior_delay
    clf, quantiles, margin = _fit_both(own_late, prior_late, own_delay, prior_delay, config, False)
    assert clf is not None
    classifier = clf
    probability = _calibrate_classifier(classifier, own_late, calib_priors_late, 0)
    companions = []
    for member in range(1, len(config.calibration_offsets)):
        other, _ = _fit_classifier(own_late, prior_late, config, False, member)
        companions.append((other, _calibrate_classifier(other, own_late, calib_priors_late, member)))
    xd, yd, _, stage = _stack(own_delay, calib_priors_delay, True, 1.0)
    raw_q = quantiles.predict(model_matrix(xd, quantile_margin(xd)))
    raw_q = np.sort(raw_q.reshape(len(yd), -1).astype(np.float64), axis=1)
    # Stage 0 conformal offsets come from rows scored at issue (how invoices are first scored);
    # rows scored later but before the due date are conditioned differently and are left out.
    at_issue = xd[:, feature_index("age_days")] == 0
    keep = at_issue | stage
    interval = fit_interval_calibrator(raw_q[keep, 0], raw_q[keep, -1], yd[keep], stage[keep])
    median = None
    if config.refit:
        _, median, _ = _fit_both(own_late, prior_late, own_delay, prior_delay, config, None, classifier=False)
    meta = _metadata(history, as_of, config, own_late, own_delay, len(prior), own_calib)
    meta["mean_margin"] = float(margin.mean())
    return RiskModel(classifier, quantiles, probability, interval, meta, median, companions)


def _metadata(history: Sequence[HistoryInvoice], as_of: date, config: TrainConfig, late: _Rows,
              delay: _Rows, priors: int, own_calib: bool) -> dict[str, Any]:
    start = min((i.issue_date for i in history if i.issue_date < as_of), default=as_of)
    # The feature set is part of what a version means: a release that changes it trains a new version.
    digest = hashlib.sha256(f"{as_of}|{len(history)}|{start}|{asdict(config)}|{FEATURE_NAMES}".encode()
                            ).hexdigest()[:10]
    return {
        "version": f"{as_of.isoformat()}-{digest}",
        "training_window": {"start": start.isoformat(), "end": as_of.isoformat()},
        "rows": {"late": len(late.y), "delay": len(delay.y), "calibration": int(late.in_window().sum())},
        "late_rate": float(np.mean(late.y)) if late.y else None,
        "prior_histories": priors,
        "calibrated_on": "own" if own_calib else "pooled",
        "config": asdict(config),
        "metrics": {},
    }


PriorHistories = Sequence[tuple[Sequence[HistoryInvoice], date]]


def train_leaning_on_prior(history: Sequence[HistoryInvoice], as_of: date, config: TrainConfig | None,
                           prior_factory: Callable[[], PriorHistories] | None,
                           use_prior: bool | None = None) -> tuple[RiskModel, bool]:
    """Train, pooling the prior ``prior_factory`` builds while the history is cold; returns the model and
    whether the prior was used.

    Cold (``use_prior`` None) means too few settled invoices (``needs_prior``), or enough of them over too
    short a span to learn payment days from (a fresh import of a few busy months). The prior is only built
    when needed: generating it is not free. An explicit ``use_prior`` is obeyed as it is.
    """
    cold = needs_prior(history, as_of) if use_prior is None else use_prior
    try:
        return train_model(history, as_of, config, prior=prior_factory() if cold and prior_factory else ()), cold
    except NotEnoughHistoryError:
        if use_prior is not None or cold or prior_factory is None:
            raise
        return train_model(history, as_of, config, prior=prior_factory()), True


def needs_prior(history: Sequence[HistoryInvoice], as_of: date, minimum: int = MIN_OWN_HISTORY) -> bool:
    """True while a tenant has too few settled invoices for a model of its own (cold start)."""
    return sum(1 for i in history if i.settled_before(as_of)) < minimum
