"""A trained risk model: scores open invoices and round-trips through a versioned, code-free artifact.

The artifact is a zip of JSON files: ``metadata.json`` (format version, features, training window,
calibration, metrics), ``classifier.json``, ``quantiles.json`` and optionally ``median.json`` and the
companion classifiers ``classifier_1.json``, ... (XGBoost's own JSON model format). Nothing is pickled,
so loading an artifact cannot execute code.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import xgboost as xgb

from addon.domain.scoring.calibration import IntervalCalibrator, ProbabilityCalibrator, offset_unit, whole_day_p50
from addon.domain.scoring.contributions import contributions
from addon.domain.scoring.features import FEATURE_NAMES, FeatureBuilder, FeatureMatrix, Snapshots, feature_index
from addon.domain.scoring.history import HistoryFrame, HistoryInvoice, IntArray, as_seen_at
from addon.domain.scoring.online import (
    OVERDUE_CHECKPOINTS,
    Adjustment,
    RecentOutcomes,
    trend_floor,
    trending,
)
from addon.domain.scoring.reasons import explain_rows

ARTIFACT_FORMAT = 1
Bands = Sequence[tuple[str, float]]
# (band, lowest P(late) in the band), ascending; tenants may override names and thresholds.
DEFAULT_BANDS: tuple[tuple[str, float], ...] = (("low", 0.0), ("medium", 0.35), ("high", 0.65))


def classifier_margin(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Starting log-odds per row: the customer's smoothed late rate, so trees learn corrections to it."""
    rate = np.clip(values[:, feature_index("cust_late_rate")], 0.01, 0.99)
    rate = np.where(np.isnan(rate), 0.5, rate)
    return np.log(rate / (1 - rate))


def days_past_due(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Days past due at scoring time (0 while not yet due), from the feature matrix."""
    return np.maximum(-values[:, feature_index("days_to_due")], 0.0)


def quantile_margin(values: npt.NDArray[np.float64], outputs: int = 3) -> npt.NDArray[np.float64]:
    """Starting point of the payment-day model per row, in days *beyond what has already elapsed*.

    The model predicts delay minus days already past due, so an overdue invoice gets a remaining-time
    estimate that can never land before today. The start is the customer's trend-aware typical delay
    (else the organisation's), less the days already past due.
    """
    own = values[:, feature_index("cust_projected_delay")]
    org = np.nan_to_num(values[:, feature_index("org_mean_delay_90d")], nan=0.0)
    start = np.where(np.isnan(own), org, own)
    elapsed = days_past_due(values)
    start = np.where(elapsed > 0, np.maximum(start - elapsed, 0.0), start)
    return np.repeat(start[:, None], outputs, axis=1)


def model_matrix(values: npt.NDArray[np.float64], margin: npt.NDArray[np.float64],
                 label: npt.NDArray[np.float64] | None = None,
                 weight: npt.NDArray[np.float64] | None = None, nthread: int = 1) -> xgb.DMatrix:
    """DMatrix with feature names and a base margin (the same construction for training and scoring)."""
    return xgb.DMatrix(values, label=label, weight=weight, base_margin=margin,
                       feature_names=list(FEATURE_NAMES), nthread=nthread)


class ArtifactError(ValueError):
    """A model artifact that is not one this code can read."""


def risk_band(p_late: float, bands: Bands = DEFAULT_BANDS) -> str:
    """Name of the highest band whose threshold ``p_late`` reaches."""
    ordered = sorted(bands, key=lambda b: b[1])
    if not ordered:
        raise ValueError("bands must not be empty")
    name = ordered[0][0]
    for band, threshold in ordered:
        if p_late >= threshold:
            name = band
    return name


@dataclass(frozen=True, slots=True)
class RiskScore:
    """One invoice's risk: P(late), the payment-day distribution relative to the due date, and why."""

    invoice_id: str
    p_late: float
    expected_pay_date: date
    p10_days: float
    p50_days: float
    p90_days: float
    band: str
    reasons: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RiskModel:
    """Classifier for P(late) plus a 10/50/90% quantile model of payment day, both recalibrated."""

    classifier: xgb.Booster
    quantiles: xgb.Booster
    probability: ProbabilityCalibrator
    interval: IntervalCalibrator
    metadata: dict[str, Any]
    # Refit on every row for the p50 only; the interval keeps the held-out model its offsets belong to.
    median: xgb.Booster | None = None
    # Classifiers calibrated on staggered windows (TrainConfig.calibration_offsets), each with its own
    # map; P(late) is the mean over them and the first. Reasons come from the first classifier.
    companions: list[tuple[xgb.Booster, ProbabilityCalibrator]] = field(default_factory=list)

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unknown"))

    def predict(self, open_invoices: Sequence[HistoryInvoice], history: Iterable[HistoryInvoice],
                as_of: date, bands: Bands = DEFAULT_BANDS, reasons: int = 3) -> list[RiskScore]:
        """Score ``open_invoices`` at ``as_of`` using only history known then."""
        merged = {inv.invoice_id: inv for inv in history}
        merged.update({inv.invoice_id: inv for inv in open_invoices})
        builder = FeatureBuilder(as_seen_at(merged.values(), as_of))
        return self.score_snapshots(builder, [(inv, as_of) for inv in open_invoices], bands, reasons)

    def predict_frame(self, frame: HistoryFrame, rows: IntArray, as_of: date, bands: Bands = DEFAULT_BANDS,
                      reasons: int = 3) -> list[RiskScore]:
        """``predict`` for ``rows`` of a history held as columns (the same scores, without a record per
        historical invoice): score them at ``as_of`` using only history known then."""
        seen, where = frame.seen_at(as_of)
        builder = FeatureBuilder(seen)
        columns = builder.frame_snapshots(frame, rows, where[rows], as_of)
        snapshots = [(inv, as_of) for inv in frame.records_at(rows)]
        return self.score_snapshots(builder, snapshots, bands, reasons, columns=columns)

    def score_snapshots(self, builder: FeatureBuilder, snapshots: Sequence[tuple[HistoryInvoice, date]],
                        bands: Bands = DEFAULT_BANDS, reasons: int = 3,
                        columns: Snapshots | None = None) -> list[RiskScore]:
        """Score (invoice, as_of) pairs whose features ``builder`` computes point-in-time.

        ``columns`` are the same pairs already located in the builder's history, if the caller has them.
        """
        if not snapshots:
            return []
        snap = columns if columns is not None else builder.snapshots(snapshots)
        features = builder.matrix(snap)
        # The contributions behind the reasons need only the features: they are worked out on a second
        # thread while this one adjusts and predicts (both mostly run in NumPy and XGBoost, outside the GIL;
        # XGBoost's predictions are thread-safe).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cashline-contributions") as pool:
            pending = pool.submit(self._model_contributions, features) if reasons else None
            adjustment = self.adjust(builder, snap, features)
            p_late, q = self.predict_matrix(features, adjustment)
            why = (explain_rows(features, self._credit_adjustment(pending.result(), features, adjustment), builder,
                                snapshots, reasons) if pending is not None else [[] for _ in snapshots])
        ordered = sorted(bands, key=lambda b: b[1])
        out = []
        for n, (inv, _) in enumerate(snapshots):
            p50 = float(q[n, 1])
            out.append(RiskScore(
                invoice_id=inv.invoice_id, p_late=round(float(p_late[n]), 4),
                expected_pay_date=inv.due_date + timedelta(days=round(p50)),
                p10_days=round(float(q[n, 0]), 1), p50_days=round(p50, 1), p90_days=round(float(q[n, 2]), 1),
                band=risk_band(float(p_late[n]), ordered), reasons=why[n]))
        return out

    def predict_adjusted(self, builder: FeatureBuilder, snap: Snapshots, features: FeatureMatrix
                         ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``predict_matrix`` of ``snap``'s rows (``features`` = ``builder.matrix(snap)``) with the
        scoring-time adjustment of each row's scoring day: the numbers the product scores with."""
        return self.predict_matrix(features, self.adjust(builder, snap, features))

    def adjust(self, builder: FeatureBuilder, snap: Snapshots, features: FeatureMatrix | None = None) -> Adjustment:
        """The scoring-time adjustment of ``snap``'s rows, each on its own scoring day (see online);
        ``features`` (``builder.matrix(snap)``) tell which customers are trending."""
        return self.recent_outcomes(builder).adjustment(snap.customer, snap.t, snap.t - snap.due,
                                                        trending(features.values) if features is not None else None)

    def recent_outcomes(self, builder: FeatureBuilder) -> RecentOutcomes:
        """The scoring-time adjustment over ``builder``'s history, with this model's window rules."""
        config = self.metadata.get("config", {})
        return RecentOutcomes(self, builder, float(config.get("calibration_fraction", 0.25)),
                              int(config.get("delay_horizon_days", 90)), self.interval.scaled,
                              tuple(config.get("checkpoints", OVERDUE_CHECKPOINTS)))

    def p_late(self, values: npt.NDArray[np.float64], shift: npt.NDArray[np.float64] | None = None
               ) -> npt.NDArray[np.float64]:
        """Calibrated P(late) of feature rows: the mean over the calibrated classifiers, each first moved
        by ``shift`` (log-odds per row and classifier, from the customer's recent lateness; see online)."""
        members = self.member_p_late(values)
        if shift is not None:
            logit = np.log(members / (1.0 - members)) + shift
            members = 1.0 / (1.0 + np.exp(-logit))
        return np.asarray(members.mean(axis=1), dtype=np.float64)

    def member_p_late(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """(n, classifiers) calibrated P(late) of each calibrated classifier, the first one first."""
        dm = model_matrix(values, classifier_margin(values))
        members = [(self.classifier, self.probability), *self.companions]
        return np.column_stack([calibrator.apply(clf.predict(dm).astype(np.float64))
                                for clf, calibrator in members]).reshape(len(values), len(members))

    def raw_quantiles(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """(n, 3) raw (not yet conformalised) p10/p50/p90 days relative to the due date."""
        if not len(values):
            return np.zeros((0, 3))
        qm = model_matrix(values, quantile_margin(values))
        raw = np.sort(self.quantiles.predict(qm).reshape(len(values), -1).astype(np.float64), axis=1)
        if self.median is not None:
            refit = np.sort(self.median.predict(qm).reshape(len(values), -1).astype(np.float64), axis=1)
            raw[:, raw.shape[1] // 2] = refit[:, refit.shape[1] // 2]
        raw = raw + days_past_due(values)[:, None]  # remaining days -> days relative to the due date
        return raw[:, [0, raw.shape[1] // 2, -1]]

    def predict_matrix(self, features: FeatureMatrix, adjustment: Adjustment | None = None
                       ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Calibrated P(late) and (n, 3) calibrated p10/p50/p90 days relative to the due date (the p50 a
        whole day: ``whole_day_p50``).

        With an ``adjustment`` (see ``online``), rows not yet due move with their customer's recent miss
        and take the newest window's calibration where it has one.
        """
        x = features.values
        past_due = -x[:, feature_index("days_to_due")]  # signed: negative while not yet due
        overdue = past_due > 0
        # An invoice already past its due date is late by definition: only the others need the classifiers.
        p = np.ones(len(x), dtype=np.float64)
        if not overdue.all():
            shift = adjustment.late_shift if adjustment is not None else None
            p[~overdue] = self.p_late(x[~overdue], shift[~overdue] if shift is not None else None)
        raw = self.raw_quantiles(x)
        lo, hi = self.interval.apply(raw[:, 0], raw[:, -1], overdue)
        mid = raw[:, 1]
        if adjustment is not None:
            # Each row's stage (not yet due / overdue) has its own window offsets, measured with the shift.
            lower, upper, have = adjustment.offsets(offset_unit(raw[:, 0], raw[:, -1], self.interval.scaled))
            shift = np.where(have, adjustment.shift, 0.0)
            lo = np.where(have, raw[:, 0] + shift - lower, lo)
            hi = np.where(have, raw[:, -1] + shift + upper, hi)
            # The p50 moves with its own shift (steady customers' misses count as noise for longer).
            mid = mid + (np.where(have, adjustment.mid_shift, 0.0) if adjustment.mid_shift is not None else shift)
            # A lasting trend outruns the shift: the p50 and p90 of rows not yet due rise to its projection
            # (the window's upper offsets were measured the same way; see online).
            lift = np.where(have & ~overdue, np.maximum(trend_floor(x) - mid, 0.0), 0.0)
            mid, hi = mid + lift, hi + lift
        # Still unpaid at as_of: it cannot be paid before as_of, so no quantile may precede it.
        q = np.column_stack([lo, mid, hi])
        q = np.sort(np.maximum(q, past_due[:, None]), axis=1)
        return p, whole_day_p50(q)

    def _contributions(self, features: FeatureMatrix, adjustment: Adjustment | None = None
                       ) -> npt.NDArray[np.float64]:
        """Per row, the contributions its reasons are read from (see ``_model_contributions``), with the
        scoring-time correction of ``adjustment`` credited to the customer's record."""
        return self._credit_adjustment(self._model_contributions(features), features, adjustment)

    @staticmethod
    def _credit_adjustment(contribs: npt.NDArray[np.float64], features: FeatureMatrix,
                           adjustment: Adjustment | None) -> npt.NDArray[np.float64]:
        """The scoring-time correction from the customer's recent lateness (log-odds, like the classifier's
        contributions) is part of the customer's record, on rows not yet due (whose P(late) it moved)."""
        if adjustment is not None and adjustment.late_shift is not None:
            due = days_past_due(features.values) <= 0
            contribs[due, feature_index("cust_late_rate")] += adjustment.late_shift[due, 0]
        return contribs

    def _model_contributions(self, features: FeatureMatrix) -> npt.NDArray[np.float64]:
        """Rows not yet due: the classifier's contributions to the log-odds of P(late); rows past due: the
        payment-day model's to their p50."""
        x = features.values
        contribs = np.zeros((len(x), len(FEATURE_NAMES) + 1), dtype=np.float64)
        overdue = days_past_due(x) > 0
        due = ~overdue
        if due.any():
            margin = classifier_margin(x[due])
            # pred_contribs, computed once per distinct decision path of each tree (the same numbers).
            found = np.asarray(contributions(self.classifier, x[due], margin, list(FEATURE_NAMES)), dtype=np.float64)
            # The base margin lands in the bias column; credit its deviation from the training average to
            # the customer's record so reasons can still say "customer paid the last 4 invoices late".
            found[:, feature_index("cust_late_rate")] += margin - float(self.metadata.get("mean_margin", 0.0))
            contribs[due] = found
        if overdue.any():
            # Past due, P(late) is 1 whatever the classifier says: what is left to explain is when it will be
            # paid. Those rows' reasons come from the payment-day model's p50 (days still to come); its start,
            # the customer's trend-aware typical delay less the days already past, is credited to the record.
            start = quantile_margin(x[overdue])
            days = np.asarray(contributions(self.median or self.quantiles, x[overdue], start, list(FEATURE_NAMES),
                                            output=1), dtype=np.float64)
            days[:, feature_index("cust_projected_delay")] += start[:, 1]
            contribs[overdue] = days
        return contribs

    def to_bytes(self) -> bytes:
        """Versioned zip artifact: JSON metadata plus XGBoost JSON models; no pickled code."""
        meta = dict(self.metadata, format=ARTIFACT_FORMAT, features=list(FEATURE_NAMES),
                    probability=self.probability.to_json(), interval=self.interval.to_json(),
                    companions=[calibrator.to_json() for _, calibrator in self.companions])
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("metadata.json", json.dumps(meta, indent=2, sort_keys=True, default=str))
            zf.writestr("classifier.json", bytes(self.classifier.save_raw(raw_format="json")))
            zf.writestr("quantiles.json", bytes(self.quantiles.save_raw(raw_format="json")))
            if self.median is not None:
                zf.writestr("median.json", bytes(self.median.save_raw(raw_format="json")))
            for n, (clf, _) in enumerate(self.companions, start=1):
                zf.writestr(f"classifier_{n}.json", bytes(clf.save_raw(raw_format="json")))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> RiskModel:
        """Load an artifact written by to_bytes (raises ArtifactError if incompatible)."""
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                meta = json.loads(zf.read("metadata.json"))
                clf_raw, q_raw = zf.read("classifier.json"), zf.read("quantiles.json")
                m_raw = zf.read("median.json") if "median.json" in zf.namelist() else None
                # An artifact from before companions has none: it scores with its one classifier.
                companion_raw = [zf.read(f"classifier_{n}.json")
                                 for n in range(1, len(meta.get("companions", [])) + 1)]
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
            raise ArtifactError(f"not a Cashline risk model artifact: {exc}") from exc
        if meta.get("format") != ARTIFACT_FORMAT:
            raise ArtifactError(f"artifact format {meta.get('format')!r}; this code reads {ARTIFACT_FORMAT}")
        if tuple(meta.get("features", ())) != FEATURE_NAMES:
            raise ArtifactError("artifact was trained on a different feature set; retrain it")
        probability = ProbabilityCalibrator.from_json(meta.pop("probability"))
        interval = IntervalCalibrator.from_json(meta.pop("interval"))
        companions = [(_booster(raw), ProbabilityCalibrator.from_json(calibrator))
                      for raw, calibrator in zip(companion_raw, meta.pop("companions", []), strict=True)]
        return cls(_booster(clf_raw), _booster(q_raw), probability, interval, meta,
                   _booster(m_raw) if m_raw is not None else None, companions)


def _booster(raw: bytes) -> xgb.Booster:
    """An XGBoost model from its JSON form."""
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster
