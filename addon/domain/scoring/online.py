"""Scoring-time adjustment of the payment-day interval from the outcomes known on the scoring date.

A model is trained at one date and then scores invoices for days or months. Payment behaviour drifts in
between: a customer in trouble pays later every month, past anything in the training window, and
gradient-boosted trees cannot extrapolate past their training range. Two things are therefore redone on
every scoring date, from invoices whose outcome is known by then (the same point-in-time rule as the
features, so nothing about a scored invoice leaks into its own score):

- **The customer's recent miss.** For the customer's last ``RESIDUAL_INVOICES`` settled invoices, the
  model's own at-issue p50 is compared with when they were really paid. The mean miss is added to
  p10/p50/p90, shrunk by its sampling noise (``t^2 / (t^2 + RESIDUAL_T2)``): a customer the model keeps
  under-estimating is followed, one whose misses scatter around zero is left alone. The p50 of a customer
  not ``trending`` takes the miss at a higher noise level (``STEADY_T2``): a steady customer's misses are
  mostly noise, which costs the point estimate more than it helps; the interval keeps the responsive shift.
- **Conformal offsets on the newest window.** The training rule (the newest ``calibration_fraction`` of
  invoices due at least ``delay_horizon_days`` before, each tail getting 10% of the misses, in units of
  each row's raw width when the model's offsets are scaled) is applied again with the window ending at the
  scoring date, and with the miss above included, so the offsets measure the interval as it is actually
  issued. Rows already past due take offsets measured the same way on the window's invoices seen at each
  overdue checkpoint (7, 14, 30... days past due) while still unpaid, one pair per checkpoint: an overdue
  book is made of the late payers, whose drift the trained overdue offsets (from invoices due months
  before the training date) miss most. The *upper* offset of rows not yet due is measured separately for
  customers whose delays are trending up (``trending``: trend-projected delay more than ``TREND_GAP_DAYS``
  above their median, from the features alone) and for the others, when each has ``MIN_GROUP`` window
  rows: the trending customers keep outrunning the trees, and one pooled offset let their misses set
  everyone's p90, leaving the others' intervals too wide. The lower offset stays pooled (a separate one
  for the trending group, measured on in-sample shifts, pushed p10 too high).
- **A lasting trend's projection as a floor.** Even shifted, a deteriorating customer's p50 runs early: the
  miss is measured on invoices issued two or three months before, when the drift was smaller. Where the
  customer's rise is ``lasting`` (trending, and its recent, exponentially weighted delay also more than
  ``TREND_GAP_DAYS`` above its median), the p50 and p90 of a row not yet due are lifted to the trend-projected
  delay where they fall below it (``trend_floor``), in the window as at scoring time, so the trending
  group's upper offset is measured on the interval as issued. The recent-delay condition keeps out a
  seasonal customer whose season has ended: its fitted line still projects the season's delays while its
  recent invoices are on time again. The p10 stays where it is (lifting it too cost coverage on generated
  sets: four of 36 without the recent-delay condition, one with it; see docs).

- **The customer's recent lateness.** P(late) keeps the map it was trained with (refitting the map per
  scoring date was tried and costs ranking, AUC, because the same raw score then means different things on
  different days). Instead each calibrated classifier is corrected per customer from its own misses: over
  the customer's last ``LATE_INVOICES`` invoices due in the ``LATE_HORIZON_DAYS`` before the scoring date
  (whether each was paid on time is known then), the lates observed against the classifier's at-issue
  P(late) give one Newton step of a logistic intercept, shrunk by its score statistic like the miss above
  (``t^2 / (t^2 + LATE_T2)``). Rows already past due (P(late) 1) are not corrected. A
  customer whose lateness the map misreads (one in season while the window was out of season, one turning
  bad) is followed; one whose outcomes match its probabilities is left alone.

All three use predictions of earlier invoices (at issue, and at the overdue checkpoints), computed with
the same model and the same point-in-time features. A tenant with fewer than ``MIN_WINDOW`` of its own
invoices in the window keeps the trained offsets (pooled with the prior on a cold start), without the
shift; the P(late) correction needs no window and applies to any book.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from addon.domain.scoring.calibration import interval_offsets
from addon.domain.scoring.features import FeatureBuilder, feature_index
from addon.domain.scoring.history import IntArray

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]
RESIDUAL_INVOICES = 4  # the customer's last settled invoices whose misses are averaged
RESIDUAL_T2 = 8.0  # noise level of the shrinkage: at t^2 = 8 half of the mean miss is applied
LATE_INVOICES = 64  # the customer's last invoices due before the scoring date whose lateness is compared
# ... among those due in the last LATE_HORIZON_DAYS: recent misses are what the features do not yet show,
# and a scoring run then pays for the at-issue features of a few weeks of invoices per customer, not of
# its last 64 (measured on the 36 generated sets, worst ECE: 0.030 with 30 days, 0.028 with 60, 0.029 with
# 90 and without a limit; see docs).
LATE_HORIZON_DAYS = 60
LATE_T2 = 8.0  # noise level of that shrinkage (score statistic): at t^2 = 8 half of the step is applied
LATE_CAP = 2.0  # the largest correction of a classifier's log-odds, either way
MIN_WINDOW = 150  # own recent invoices needed before the window replaces the trained calibration
# A big book's window is cut to its newest rows: still 200 misses per tail, and the at-issue features
# of the window (and of its customers' earlier invoices) stay a small part of scoring the book.
MAX_WINDOW = 2000
MIN_OVERDUE = 100  # overdue snapshots the window needs before its overdue offsets replace the trained ones
# The overdue offsets' window: invoices due at least this many days before the scoring date (the at-issue
# window waits delay_horizon_days, 90, for nearly every outcome to be known). Overdue rows are the late
# payers, whose drift matters most, and a checkpoint snapshot's outcome is known sooner; measured on the
# generated sets, the newer window halved the distance of re-scored coverage from 80% (see docs).
OVERDUE_HORIZON_DAYS = 45
OVERDUE_CHECKPOINTS = (7, 14, 30, 60, 90)  # TrainConfig.checkpoints past the due date
# A customer is trending when its trend-projected delay is this far above its median delay (as the
# eighth session's grouping; see docs). Each group needs MIN_GROUP window rows (about 10 misses per tail)
# before it gets its own upper offset.
TREND_GAP_DAYS = 7.0
MIN_GROUP = 100
# The p50's noise level for customers not trending. 16 was better than 8 for within_5d on steady books when
# measured for every customer, but followed deteriorating customers too late (fifth session); they keep 8,
# and so does the interval (whose offsets need the responsive shift). See docs.
STEADY_T2 = 16.0


def trending(values: Matrix) -> npt.NDArray[np.bool_]:
    """Feature rows whose customer's delays are trending up: the trend-projected delay more than
    ``TREND_GAP_DAYS`` above the median delay (False without a settled history)."""
    gap = values[:, feature_index("cust_projected_delay")] - values[:, feature_index("cust_median_delay")]
    return np.nan_to_num(gap, nan=0.0) > TREND_GAP_DAYS


def lasting(values: Matrix) -> npt.NDArray[np.bool_]:
    """``trending`` rows whose customer's recent (exponentially weighted) delay is also more than
    ``TREND_GAP_DAYS`` above its median: a rise still under way, not the fitted line's memory of a season."""
    gap = values[:, feature_index("cust_ewm_delay")] - values[:, feature_index("cust_median_delay")]
    return trending(values) & (np.nan_to_num(gap, nan=0.0) > TREND_GAP_DAYS)


def trend_floor(values: Matrix) -> Vector:
    """Per feature row, the lowest p50 (and p90) a row not yet due may have: the trend-projected delay where
    the customer's rise is ``lasting``, else -inf (no floor)."""
    return np.where(lasting(values), values[:, feature_index("cust_projected_delay")], -np.inf)


class RawQuantiles(Protocol):
    """What the adjustment needs of a model: raw p10/p50/p90 days and each calibrated classifier's
    P(late) for feature rows."""

    def raw_quantiles(self, values: Matrix) -> Matrix: ...

    def member_p_late(self, values: Matrix) -> Matrix: ...


@dataclass(frozen=True, slots=True)
class Calibration:
    """The newest window's calibration on one scoring date."""

    lower: float  # conformal offsets of the not-yet-due interval (in raw widths when the model's are scaled)
    upper: float
    # The same for rows already past due, one pair per checkpoint after the due date, from the window's
    # snapshots at that checkpoint (None: not asked for, or too few of them; the trained offsets then
    # apply, without the shift).
    overdue: tuple[tuple[float, float], ...] | None = None
    # The upper offset of not-yet-due rows whose customer is ``trending`` (None: ``upper`` serves every
    # row); ``upper`` is then the other rows'.
    upper_trending: float | None = None


@dataclass(frozen=True, slots=True)
class Adjustment:
    """Per scored row: the shift in days and which window calibration applies (None: the trained one)."""

    shift: Vector
    group: IntArray  # index into ``calibrations``: one per distinct scoring date
    calibrations: list[Calibration | None]
    stage: IntArray | None = None  # per row: -1 not yet due, else its checkpoint (None: none is past due)
    # Per row and calibrated classifier: the log-odds correction from the customer's recent lateness.
    late_shift: Matrix | None = None
    trending: npt.NDArray[np.bool_] | None = None  # per row: its customer is trending (see ``trending``)
    mid_shift: Vector | None = None  # per row: the p50's shift (None: ``shift``)

    def offsets(self, unit: Vector | float = 1.0) -> tuple[Vector, Vector, npt.NDArray[np.bool_]]:
        """Lower and upper offsets per row in days (``unit``: each row's raw width, for scaled offsets),
        and where the window supplied them (for an overdue row, the window's overdue offsets)."""
        stage = self.stage if self.stage is not None else np.full(len(self.group), -1, dtype=np.int64)
        pairs = np.full((len(self.group), 2), np.nan)
        for n, calibration in enumerate(self.calibrations):
            if calibration is None:
                continue
            rows, past = self.group == n, (self.group == n) & (stage >= 0)
            pairs[rows] = (calibration.lower, calibration.upper)
            if calibration.upper_trending is not None and self.trending is not None:
                pairs[rows & self.trending, 1] = calibration.upper_trending
            pairs[past] = np.array(calibration.overdue)[stage[past]] if calibration.overdue else np.nan
        lower, upper = pairs[:, 0], pairs[:, 1]
        have = ~np.isnan(lower)
        return np.where(have, lower, 0.0) * unit, np.where(have, upper, 0.0) * unit, have


class RecentOutcomes:
    """At-issue predictions of a history's invoices, computed on demand, and what they say on a date."""

    def __init__(self, model: RawQuantiles, builder: FeatureBuilder, calibration_fraction: float = 0.25,
                 delay_horizon_days: int = 90, scaled: bool = False,
                 checkpoints: Sequence[int] = OVERDUE_CHECKPOINTS) -> None:
        self.model, self.builder = model, builder
        self.fraction, self.horizon = calibration_fraction, delay_horizon_days
        self.scaled = scaled  # offsets in units of each row's raw width, like the model's trained ones
        self.checkpoints = tuple(d for d in checkpoints if d > 0)  # days past due of the overdue snapshots
        frame = builder.frame
        self.issue, self.due, self.paid, self.customer = frame.issue, frame.due, frame.paid, frame.customer
        # Caches by frame row, filled on demand (zeros: allocated lazily, so a million rows cost nothing
        # until used); ``_have_q`` marks the rows computed.
        self._raw_q = np.zeros((frame.size, 3))
        self._have_q = np.zeros(frame.size, dtype=bool)
        self._trending = np.zeros(frame.size, dtype=bool)  # at issue
        self._floor = np.zeros(frame.size)  # at issue: ``trend_floor`` (read only for rows computed)
        self._p_issue: Matrix | None = None  # at-issue P(late) per classifier, (size, members)
        self._raw_overdue: dict[int, tuple[Matrix, npt.NDArray[np.bool_]]] = {}
        self._newest_first = np.argsort(-self.issue, kind="stable")
        self._cache: dict[int, Calibration | None] = {}
        self._overdue_cache: dict[int, tuple[tuple[float, float], ...] | None] = {}

    def adjustment(self, customers: IntArray, days: IntArray, past_due: IntArray | None = None,
                   trending: npt.NDArray[np.bool_] | None = None) -> Adjustment:
        """Shift and calibration for scored rows of ``customers`` (builder codes, -1: none) on ``days``;
        ``past_due``: each row's days past its due date (rows past due take the window's overdue offsets
        of the nearest checkpoint); ``trending``: each row's customer is trending on its day (the upper
        offset of that group applies; None: the other group's for every row)."""
        unique, group = np.unique(days, return_inverse=True)
        stage = None
        with_overdue = np.zeros(len(unique), dtype=bool)
        if past_due is not None and self.checkpoints:
            stage = self.stage(past_due)
            with_overdue[np.unique(group[stage >= 0])] = True
        calibrations = [self.calibration(int(d), bool(o)) for d, o in zip(unique.tolist(), with_overdue, strict=True)]
        # P(late) of a row already past due is 1 whatever the classifiers say: only the others are corrected.
        due = np.ones(len(days), dtype=bool) if past_due is None else past_due <= 0
        late_shift = np.zeros((len(days), 1))
        if due.any():
            found = self.late_shift(customers[due], days[due])
            late_shift = np.zeros((len(days), found.shape[1]))
            late_shift[due] = found
        shift, mid_shift = self.shifts(customers, days, trending)
        adjustment = Adjustment(shift, group.astype(np.int64), calibrations, stage, late_shift, trending,
                                mid_shift if trending is not None else None)
        _, _, have = adjustment.offsets()
        shift[~have] = 0.0
        mid_shift[~have] = 0.0
        return adjustment

    def stage(self, past_due: IntArray) -> IntArray:
        """-1 for rows not yet past due, else the index of the checkpoint nearest to their days past due."""
        middles = (np.array(self.checkpoints[1:]) + np.array(self.checkpoints[:-1])) / 2
        return np.where(past_due > 0, np.searchsorted(middles, past_due), -1).astype(np.int64)

    def calibration(self, day: int, overdue: bool = False) -> Calibration | None:
        """The newest window's calibration for scoring on day ordinal ``day`` (None: too few rows), with
        the overdue offsets when ``overdue``."""
        if day not in self._cache:
            self._cache[day] = self._calibrate(day)
        found = self._cache[day]
        if found is None or not overdue:
            return found
        if day not in self._overdue_cache:
            self._overdue_cache[day] = self._calibrate_overdue(day)
        return replace(found, overdue=self._overdue_cache[day])

    def shift(self, customers: IntArray, days: IntArray) -> Vector:
        """Each row's customer's mean recent miss (actual minus at-issue p50), shrunk by its noise."""
        return self.shifts(customers, days)[0]

    def shifts(self, customers: IntArray, days: IntArray, trending: npt.NDArray[np.bool_] | None = None
               ) -> tuple[Vector, Vector]:
        """``shift``, and the p50's: the same miss shrunk at ``STEADY_T2`` for rows not ``trending``
        (None: every row as trending, so both are ``shift``)."""
        rows, valid = self.builder.last_settled(customers, days, RESIDUAL_INVOICES)
        self._ensure(rows[valid])
        safe = np.where(valid, rows, 0)
        miss = np.where(valid, (self.paid[safe] - self.due[safe]) - self._raw_q[safe, 1], np.nan)
        k = valid.sum(axis=1)
        out, mid = np.zeros(len(customers), dtype=np.float64), np.zeros(len(customers), dtype=np.float64)
        enough = k >= 2
        if not enough.any():
            return out, mid
        m = miss[enough]
        mean = np.nanmean(m, axis=1)
        se2 = np.nanvar(m, axis=1, ddof=1) / k[enough] + 1e-9
        t2 = mean * mean / se2
        out[enough] = mean * t2 / (t2 + RESIDUAL_T2)
        level = RESIDUAL_T2 if trending is None else np.where(trending[enough], RESIDUAL_T2, STEADY_T2)
        mid[enough] = mean * t2 / (t2 + level)
        return out, mid

    def late_shift(self, customers: IntArray, days: IntArray) -> Matrix:
        """Per row and calibrated classifier, the log-odds correction from the customer's last
        ``LATE_INVOICES`` invoices due in the ``LATE_HORIZON_DAYS`` before the row's day: lates observed
        minus expected at issue, over the binomial information (one Newton step from zero), shrunk by
        t^2 / (t^2 + LATE_T2) and capped at ``LATE_CAP``. (n, 1) zeros when no row's customer has two such
        invoices (broadcasts over the classifiers)."""
        # One computation per distinct (customer, day): a book scores many invoices per customer.
        key = customers.astype(np.int64) * (1 << 31) + days
        _, first, back = np.unique(key, return_index=True, return_inverse=True)
        rows, valid = self.builder.last_due(customers[first], days[first], LATE_INVOICES)
        valid &= self.due[rows] >= (days[first] - LATE_HORIZON_DAYS)[:, None]
        self._ensure(rows[valid])
        enough = valid.sum(axis=1) >= 2
        if not enough.any() or self._p_issue is None:
            return np.zeros((len(customers), 1))
        out = np.zeros((len(first), self._p_issue.shape[1]), dtype=np.float64)
        rows, valid = rows[enough], valid[enough]
        safe = np.where(valid, rows, 0)
        late = (self.paid[safe] > self.due[safe]).astype(np.float64)
        for m in range(out.shape[1]):
            p = np.where(valid, self._p_issue[safe, m], 0.0)
            score = np.where(valid, late - p, 0.0).sum(axis=1)
            information = (p * (1.0 - p)).sum(axis=1) + 1e-6
            t2 = score * score / information
            out[enough, m] = np.clip(score / information * t2 / (t2 + LATE_T2), -LATE_CAP, LATE_CAP)
        return out[back]

    def _ensure(self, rows: IntArray) -> None:
        """Compute at-issue raw outputs (quantiles and each classifier's P(late)) for the rows that do not
        have them yet."""
        todo = np.unique(rows[~self._have_q[rows]])
        if not len(todo):
            return
        snap = self.builder.frame_snapshots(self.builder.frame, todo, todo, self.issue[todo])
        values = self.builder.matrix(snap).values
        self._raw_q[todo] = self.model.raw_quantiles(values)
        p = self.model.member_p_late(values)
        if self._p_issue is None:
            self._p_issue = np.zeros((len(self._raw_q), p.shape[1]))
        self._p_issue[todo] = p
        self._have_q[todo] = True
        self._trending[todo] = trending(values)
        self._floor[todo] = trend_floor(values)

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
        # The p50 and p90 as issued: lifted to a lasting trend's projection, as at scoring time.
        q[:, 1:] += np.maximum(self._floor[delay_rows] - q[:, 1], 0.0)[:, None]
        known = np.where(self.paid[delay_rows] < day, self.paid[delay_rows], day)
        actual = (known - self.due[delay_rows]).astype(np.float64)
        lower, upper = interval_offsets(q[:, 0], q[:, -1], actual, scaled=self.scaled)
        group = self._trending[delay_rows]
        if min(group.sum(), (~group).sum()) < MIN_GROUP:
            return Calibration(lower, upper)
        # Each group's own upper offset; the lower one stays pooled.
        _, upper = interval_offsets(q[~group, 0], q[~group, -1], actual[~group], scaled=self.scaled)
        _, upper_trending = interval_offsets(q[group, 0], q[group, -1], actual[group], scaled=self.scaled)
        return Calibration(lower, upper, upper_trending=upper_trending)

    def _calibrate_overdue(self, day: int) -> tuple[tuple[float, float], ...] | None:
        """Offsets for rows past due, per checkpoint: the newest invoices due OVERDUE_HORIZON_DAYS before,
        seen at each checkpoint after their due date while still unpaid then (as training sees them),
        scored with the shift of that day (unpaid ones count with their delay so far). A checkpoint with
        fewer than MIN_OVERDUE such rows pools the later ones (then all)."""
        window = self._window(self.due < day - min(self.horizon, OVERDUE_HORIZON_DAYS))
        rows, seen, raw, stage = [], [], [], []
        for k, offset in enumerate(self.checkpoints):
            at = self.due[window] + offset
            keep = (at < day) & (self.paid[window] >= at) & (at > self.issue[window])
            rows.append(window[keep])
            seen.append(at[keep])
            raw.append(self._overdue_raw(offset, window[keep]))
            stage.append(np.full(int(keep.sum()), k))
        r, t, q, k_of = np.concatenate(rows), np.concatenate(seen), np.vstack(raw), np.concatenate(stage)
        if len(r) < MIN_OVERDUE:
            return None
        q = q + self.shift(self.customer[r], t)[:, None]
        known = np.where(self.paid[r] < day, self.paid[r], day)
        actual = (known - self.due[r]).astype(np.float64)
        out = []
        for k in range(len(self.checkpoints)):
            use = next((m for m in (k_of == k, k_of >= k) if m.sum() >= MIN_OVERDUE), np.ones(len(r), dtype=bool))
            out.append(interval_offsets(q[use, 0], q[use, -1], actual[use], scaled=self.scaled))
        return tuple(out)

    def _overdue_raw(self, offset: int, rows: IntArray) -> Matrix:
        """Raw outputs of ``rows`` seen ``offset`` days after their due date, computed once."""
        if offset not in self._raw_overdue:
            self._raw_overdue[offset] = np.zeros((len(self.issue), 3)), np.zeros(len(self.issue), dtype=bool)
        cache, have = self._raw_overdue[offset]
        todo = np.unique(rows[~have[rows]])
        if len(todo):
            snap = self.builder.frame_snapshots(self.builder.frame, todo, todo, self.due[todo] + offset)
            cache[todo] = self.model.raw_quantiles(self.builder.matrix(snap).values)
            have[todo] = True
        return cache[rows]

