"""Recalibration fitted on the most recent window: isotonic/Platt for P(late), conformal for intervals.

Both are stored as plain numbers (JSON-safe) so a model artifact never pickles code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

Vector = npt.NDArray[np.float64]
P_FLOOR = 0.005
MIN_ISOTONIC = 300  # below this many calibration rows isotonic steps overfit; Platt is smoother


@dataclass(frozen=True, slots=True)
class ProbabilityCalibrator:
    """Monotone map from raw to calibrated P(late): isotonic knots or Platt coefficients."""

    method: str  # "isotonic" | "platt" | "identity"
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    def apply(self, p: Vector) -> Vector:
        """Calibrated probabilities for raw model probabilities ``p``."""
        # Never claim certainty: a calibration window of a few hundred invoices cannot support 0 or 1.
        return np.clip(self._map(p), P_FLOOR, 1 - P_FLOOR)

    def _map(self, p: Vector) -> Vector:
        if self.method == "isotonic":
            return np.asarray(np.interp(p, np.array(self.x), np.array(self.y)), dtype=np.float64)
        if self.method == "platt":
            a, b = self.x
            logit = np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1.0))
            return 1.0 / (1.0 + np.exp(-(a * logit + b)))
        return p

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form for the artifact."""
        return {"method": self.method, "x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProbabilityCalibrator:
        """Inverse of to_json."""
        return cls(str(data["method"]), tuple(map(float, data["x"])), tuple(map(float, data["y"])))


def fit_probability_calibrator(p: Vector, y: Vector, method: str = "auto") -> ProbabilityCalibrator:
    """Fit isotonic (enough rows) or Platt scaling mapping raw ``p`` to observed outcomes ``y``."""
    if len(p) < 20 or len(set(y.tolist())) < 2:
        return ProbabilityCalibrator("identity")
    if method == "isotonic" or (method == "auto" and len(p) >= MIN_ISOTONIC):
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
        return ProbabilityCalibrator("isotonic", tuple(map(float, iso.X_thresholds_)),
                                     tuple(map(float, iso.y_thresholds_)))
    logit = np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1.0)).reshape(-1, 1)
    lr = LogisticRegression(C=1e6).fit(logit, y)
    return ProbabilityCalibrator("platt", (float(lr.coef_[0][0]), float(lr.intercept_[0])))


WIDTH_FLOOR = 2.0  # days: a near-zero raw interval must not turn a small miss into an unbounded score


def offset_unit(q10: Vector, q90: Vector, scaled: bool) -> Vector | float:
    """Each row's unit for conformal offsets: its raw 80% interval width (at least WIDTH_FLOOR days) when
    the offsets are ``scaled``, else one day."""
    return np.asarray(np.maximum(q90 - q10, WIDTH_FLOOR), dtype=np.float64) if scaled else 1.0


@dataclass(frozen=True, slots=True)
class IntervalCalibrator:
    """Conformalised quantile regression offsets, one pair per stage (not yet due / overdue).

    ``scaled`` offsets are in units of each row's raw interval width (``offset_unit``): a customer the
    quantile model is unsure about gets a wider correction than a steady one. One additive offset for all
    rows was set by the noisiest customers' misses, so steady customers' intervals came out too wide and
    drifting customers' too narrow. Artifacts from before ``scaled`` keep their additive offsets.
    """

    lower: tuple[float, float] = (0.0, 0.0)
    upper: tuple[float, float] = (0.0, 0.0)
    alpha: float = 0.2
    scaled: bool = False

    def apply(self, q10: Vector, q90: Vector, overdue: npt.NDArray[np.bool_]) -> tuple[Vector, Vector]:
        """Widen (or narrow) raw 10%/90% quantiles so the interval covers 1 - alpha of outcomes."""
        stage = overdue.astype(int)
        unit = offset_unit(q10, q90, self.scaled)
        lo = q10 - np.array(self.lower)[stage] * unit
        hi = q90 + np.array(self.upper)[stage] * unit
        return lo, hi

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form for the artifact."""
        return {"lower": list(self.lower), "upper": list(self.upper), "alpha": self.alpha, "scaled": self.scaled}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IntervalCalibrator:
        """Inverse of to_json."""
        lower, upper = data["lower"], data["upper"]
        return cls((float(lower[0]), float(lower[1])), (float(upper[0]), float(upper[1])), float(data["alpha"]),
                   bool(data.get("scaled", False)))


def conformal_offset(scores: Vector, level: float) -> float:
    """Finite-sample conformal quantile of nonconformity ``scores`` at ``level`` (0 if too few)."""
    n = len(scores)
    if n < 10:
        return 0.0
    k = min(n, math.ceil((n + 1) * level))  # the k-th smallest score (split-conformal rank)
    return float(np.sort(scores)[k - 1])


def interval_offsets(q10: Vector, q90: Vector, actual: Vector, alpha: float = 0.2,
                     scaled: bool = True) -> tuple[float, float]:
    """Lower and upper conformal offsets (in ``offset_unit``s) that give each tail alpha/2 of the misses."""
    unit = offset_unit(q10, q90, scaled)
    return (conformal_offset((q10 - actual) / unit, 1 - alpha / 2),
            conformal_offset((actual - q90) / unit, 1 - alpha / 2))


def fit_interval_calibrator(q10: Vector, q90: Vector, actual: Vector, overdue: npt.NDArray[np.bool_],
                            alpha: float = 0.2) -> IntervalCalibrator:
    """Asymmetric, width-scaled CQR: each tail gets alpha/2 of the misses, separately for each stage."""
    stages = [interval_offsets(q10[overdue == stage], q90[overdue == stage], actual[overdue == stage], alpha)
              for stage in (False, True)]
    return IntervalCalibrator((stages[0][0], stages[1][0]), (stages[0][1], stages[1][1]), alpha, scaled=True)


def whole_day_p50(q: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(n, 3) p10/p50/p90 in days with the p50 on the nearest whole day, the unit a payment day comes in.

    Under absolute error the best point for a whole-day outcome is a whole day (the expected loss is linear
    between whole days), and a p50 of 21.3 days names no payment day at all. The p10 and p90 keep their
    conformal calibration as they are; one only moves where the rounded p50 would fall outside them.
    """
    mid = np.round(q[:, 1])
    return np.column_stack([np.minimum(q[:, 0], mid), mid, np.maximum(q[:, 2], mid)])
