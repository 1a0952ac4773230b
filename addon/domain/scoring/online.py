"""Scoring-time adjustment of the payment-day interval from the outcomes known on the scoring date.

A model is trained at one date and then scores invoices for days or months. Payment behaviour drifts in
between: a customer in trouble pays later every month, past anything in the training window, and
gradient-boosted trees cannot extrapolate past their training range. Two things are therefore redone on
every scoring date, from invoices whose outcome is known by then (the same point-in-time rule as the
features, so nothing about a scored invoice leaks into its own score):

- **The customer's recent miss.** For the customer's last ``RESIDUAL_INVOICES`` settled invoices, the
  model's own at-issue p50 is compared with when they were really paid. The mean miss is added to
  p10/p50/p90, shrunk by its sampling noise (``t^2 / (t^2 + RESIDUAL_T2)``): a customer the model keeps
  under-estimating is followed, one whose misses scatter around zero is left alone.
- **Conformal offsets on the newest window.** The training rule (the newest ``calibration_fraction`` of
  invoices due at least ``delay_horizon_days`` before, each tail getting 10% of the misses, in units of
  each row's raw width when the model's offsets are scaled) is applied again with the window ending at the
  scoring date, and with the miss above included, so the offsets measure the interval as it is actually
  issued.

P(late) keeps the calibration it was trained with: refitting the map per scoring date was tried and
costs ranking (AUC), because the same raw score then means different things on different days.

Both use at-issue predictions of earlier invoices, computed with the same model and the same
point-in-time features. A tenant with fewer than ``MIN_WINDOW`` of its own invoices in the window keeps
the trained offsets (pooled with the prior on a cold start), without the shift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from addon.domain.scoring.calibration import interval_offsets
from addon.domain.scoring.features import FeatureBuilder
from addon.domain.scoring.history import IntArray

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]
RESIDUAL_INVOICES = 4  # the customer's last settled invoices whose misses are averaged
RESIDUAL_T2 = 8.0  # noise level of the shrinkage: at t^2 = 8 half of the mean miss is applied
MIN_WINDOW = 150  # own recent invoices needed before the window replaces the trained calibration
# A big book's window is cut to its newest rows: still 200 misses per tail, and the at-issue features
# of the window (and of its customers' earlier invoices) stay a small part of scoring the book.
MAX_WINDOW = 2000


class RawQuantiles(Protocol):
    """What the adjustment needs of a model: raw p10/p50/p90 days for feature rows."""

    def raw_quantiles(self, values: Matrix) -> Matrix: ...


@dataclass(frozen=True, slots=True)
class Calibration:
    """The newest window's calibration on one scoring date."""

    lower: float  # conformal offsets of the not-yet-due interval (in raw widths when the model's are scaled)
    upper: float


@dataclass(frozen=True, slots=True)
class Adjustment:
    """Per scored row: the shift in days and which window calibration applies (None: the trained one)."""

    shift: Vector
    group: IntArray  # index into ``calibrations``: one per distinct scoring date
    calibrations: list[Calibration | None]

    def offsets(self, unit: Vector | float = 1.0) -> tuple[Vector, Vector, npt.NDArray[np.bool_]]:
        """Lower and upper offsets per row in days (``unit``: each row's raw width, for scaled offsets),
        and where the window supplied them."""
        lower = np.array([c.lower if c else 0.0 for c in self.calibrations], dtype=np.float64)[self.group]
        upper = np.array([c.upper if c else 0.0 for c in self.calibrations], dtype=np.float64)[self.group]
        have = np.array([c is not None for c in self.calibrations], dtype=bool)[self.group]
        return lower * unit, upper * unit, have


class RecentOutcomes:
    """At-issue predictions of a history's invoices, computed on demand, and what they say on a date."""

    def __init__(self, model: RawQuantiles, builder: FeatureBuilder, calibration_fraction: float = 0.25,
                 delay_horizon_days: int = 90, scaled: bool = False) -> None:
        self.model, self.builder = model, builder
        self.fraction, self.horizon = calibration_fraction, delay_horizon_days
        self.scaled = scaled  # offsets in units of each row's raw width, like the model's trained ones
        frame = builder.frame
        self.issue, self.due, self.paid, self.customer = frame.issue, frame.due, frame.paid, frame.customer
        self._raw_q = np.full((frame.size, 3), np.nan)  # NaN: not computed yet
        self._newest_first = np.argsort(-self.issue, kind="stable")
        self._cache: dict[int, Calibration | None] = {}

    def adjustment(self, customers: IntArray, days: IntArray) -> Adjustment:
        """Shift and calibration for scored rows of ``customers`` (builder codes, -1: none) on ``days``."""
        unique, group = np.unique(days, return_inverse=True)
        calibrations = [self.calibration(int(d)) for d in unique.tolist()]
        shift = self.shift(customers, days)
        shift[~np.array([c is not None for c in calibrations], dtype=bool)[group]] = 0.0
        return Adjustment(shift, group.astype(np.int64), calibrations)

    def calibration(self, day: int) -> Calibration | None:
        """The newest window's calibration for scoring on day ordinal ``day`` (None: too few rows)."""
        if day not in self._cache:
            self._cache[day] = self._calibrate(day)
        return self._cache[day]

    def shift(self, customers: IntArray, days: IntArray) -> Vector:
        """Each row's customer's mean recent miss (actual minus at-issue p50), shrunk by its noise."""
        rows, valid = self.builder.last_settled(customers, days, RESIDUAL_INVOICES)
        self._ensure(rows[valid])
        safe = np.where(valid, rows, 0)
        miss = np.where(valid, (self.paid[safe] - self.due[safe]) - self._raw_q[safe, 1], np.nan)
        k = valid.sum(axis=1)
        out = np.zeros(len(customers), dtype=np.float64)
        enough = k >= 2
        if not enough.any():
            return out
        m = miss[enough]
        mean = np.nanmean(m, axis=1)
        se2 = np.nanvar(m, axis=1, ddof=1) / k[enough] + 1e-9
        t2 = mean * mean / se2
        out[enough] = mean * t2 / (t2 + RESIDUAL_T2)
        return out

    def _ensure(self, rows: IntArray) -> None:
        """Compute at-issue raw outputs for the rows that do not have them yet."""
        todo = np.unique(rows[np.isnan(self._raw_q[rows, 1])])
        if not len(todo):
            return
        snap = self.builder.frame_snapshots(self.builder.frame, todo, todo, self.issue[todo])
        self._raw_q[todo] = self.model.raw_quantiles(self.builder.matrix(snap).values)

    def _window(self, eligible: npt.NDArray[np.bool_]) -> IntArray:
        """The newest ``fraction`` of the eligible invoices by issue date, at most the newest MAX_WINDOW."""
        ordered = self._newest_first[eligible[self._newest_first]]
        return ordered[:min(MAX_WINDOW, math.ceil(len(ordered) * self.fraction))]

    def _calibrate(self, day: int) -> Calibration | None:
        # Payment day: due at least `horizon` days before, the delay so far standing in for an unpaid one.
        delay_rows = self._window(self.due < day - self.horizon)
        if len(delay_rows) < MIN_WINDOW:
            return None
        self._ensure(delay_rows)
        q = self._raw_q[delay_rows] + self.shift(self.customer[delay_rows], self.issue[delay_rows])[:, None]
        known = np.where(self.paid[delay_rows] < day, self.paid[delay_rows], day)
        actual = (known - self.due[delay_rows]).astype(np.float64)
        return Calibration(*interval_offsets(q[:, 0], q[:, -1], actual, scaled=self.scaled))

