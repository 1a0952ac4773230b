"""Which model a tenant scores with, and training one: the active model, retrained when stale or unreadable,
and a new version registered and activated only if the quality gate (``scoring_gate``) finds it not worse.

Callers hold the tenant's model lock (``tenant_lock.MODEL``) up to their commit: a training and a hand
activation of the same tenant must not both switch its active model.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.domain.scoring.history import HistoryInvoice
from addon.domain.scoring.model import ArtifactError, RiskModel
from addon.domain.scoring.train import NotEnoughHistoryError, TrainConfig, train_leaning_on_prior
from addon.models import AuditLog, ModelVersion, Tenant
from addon.services.model_registry import active_model, make_active, training_window
from addon.services.scoring_gate import DEFAULT_TOLERANCES, GateDecision, GateTolerances, compare

logger = logging.getLogger(__name__)

RETRAIN_AFTER = timedelta(days=7)
NOT_ENOUGH_HISTORY = "not_enough_history"  # Tenant.model_attempt after a training that had too little to learn
# One thread per training: RQ workers share the cores, and XGBoost's OpenMP threads spin badly when
# another process holds the other core (measured: 20x slower than nthread=1 under load).
DEFAULT_TRAIN_CONFIG = TrainConfig(nthread=1)


def train_for_tenant(session: Session, tenant: Tenant, history: Sequence[HistoryInvoice], today: date,
                     prior_factory: Callable[[], Sequence[tuple[Sequence[HistoryInvoice], date]]] | None = None,
                     config: TrainConfig = DEFAULT_TRAIN_CONFIG, *, force: bool = False,
                     actor: str = "job:scoring", tolerances: GateTolerances = DEFAULT_TOLERANCES) -> ModelVersion:
    """Train and register a model for ``tenant``; while it is cold, with the pooled prior histories
    ``prior_factory`` builds (only then: generating them is not free).

    The new model becomes the active one only if the quality gate passes it (``scoring_gate``) or
    ``force`` is set; otherwise it is stored inactive with the gate's figures and reason, so the rejection
    can be inspected (and activated by hand: ``model_registry.activate_model``). Either way the attempt is
    remembered on the tenant and audited."""
    try:
        model, use_prior = train_leaning_on_prior(history, today, config, prior_factory)
    except NotEnoughHistoryError:
        _remember_attempt(tenant, today, NOT_ENOUGH_HISTORY)
        raise
    current = active_model(session, tenant)
    decision = _gate(current, model, history, today, config, tolerances)
    activate = decision.passed or force
    outcome = "activated" if decision.passed else "forced" if force else "rejected"
    trained_from, trained_to = training_window(model)
    gate = {"outcome": outcome, "reason": decision.reason, "compared_with": current.version if current else None,
            "candidate": decision.candidate, "active": decision.active, "tolerances": tolerances.as_dict()}
    row = ModelVersion(tenant_id=tenant.id, version=_unused_version(session, f"t{tenant.id}-{model.version}"),
                       kind="tenant+prior" if use_prior else "tenant",
                       trained_from=trained_from, trained_to=trained_to,
                       metrics={"rows": model.metadata.get("rows"), "late_rate": model.metadata.get("late_rate"),
                                "calibrated_on": model.metadata.get("calibrated_on"), "gate": gate},
                       artifact=model.to_bytes(), active=False)
    session.add(row)
    session.flush()
    if activate:
        make_active(session, tenant, row)
    _remember_attempt(tenant, today, outcome)
    session.add(AuditLog(tenant_id=tenant.id, actor=actor, action="model.activated" if activate else "model.rejected",
                         object_type="model_version", object_id=row.version,
                         before={"active": current.version if current else None},
                         after={"active": row.version if activate else current.version if current else None,
                                "gate": gate},
                         reason=f"forced: {decision.reason}" if outcome == "forced" else decision.reason))
    log = logger.info if activate else logger.warning
    log("tenant %s: %s model %s %s (%s)", tenant.id, row.kind, row.version, outcome, decision.reason)
    return row


def _remember_attempt(tenant: Tenant, today: date, outcome: str) -> None:
    """Record the training attempt on the tenant, so ``ensure_model`` does not retry it on every run."""
    tenant.model_attempted_on, tenant.model_attempt = today, outcome


def _gate(current: ModelVersion | None, candidate: RiskModel, history: Sequence[HistoryInvoice], today: date,
          config: TrainConfig, tolerances: GateTolerances) -> GateDecision:
    """The quality gate's decision; a candidate with nothing usable to compare against passes."""
    if current is None:
        return GateDecision(True, "no active model to compare with")
    active = _readable(current)
    if active is None:
        return GateDecision(True, f"the active model {current.version} cannot be read by this release")
    return compare(candidate, active, history, today, config.calibration_fraction, tolerances)


def _unused_version(session: Session, version: str) -> str:
    """``version``, or with the first free ``-2``, ``-3``... suffix: a model's version names its training
    date, window and settings, so a second training the same day (a manual `cashline model train` after the
    nightly job, a retry) would otherwise collide with the first in the registry."""
    same_prefix = ModelVersion.version.startswith(version, autoescape=True)
    taken = set(session.scalars(select(ModelVersion.version).where(same_prefix)))
    candidates = itertools.chain((version,), (f"{version}-{n}" for n in itertools.count(2)))
    return next(v for v in candidates if v not in taken)


def ensure_model(session: Session, tenant: Tenant,
                 history: Sequence[HistoryInvoice] | Callable[[], Sequence[HistoryInvoice]], today: date,
                 prior_factory: Any = None, config: TrainConfig = DEFAULT_TRAIN_CONFIG,
                 tolerances: GateTolerances = DEFAULT_TOLERANCES) -> tuple[RiskModel, ModelVersion]:
    """The tenant's active model, retrained when older than a week, missing, or unreadable (an artifact
    from a release with another feature set: upgrading must not stop scoring until the weekly retrain),
    unless a recent attempt already failed or was rejected (see ``_due_for_training``).

    ``history`` may be a callable: the records are then only loaded when a model has to be trained.
    """
    current = active_model(session, tenant)
    model = _readable(current)
    if model is None or current is None or _due_for_training(tenant, current, today):
        records = history() if callable(history) else history
        try:
            trained = train_for_tenant(session, tenant, records, today, prior_factory, config,
                                       tolerances=tolerances)
        except NotEnoughHistoryError:
            if model is None or current is None:
                raise
            logger.info("tenant %s: too little history to retrain; keeping %s", tenant.id, current.version)
        else:
            if trained.active:  # else the gate rejected it: keep scoring with the current model
                current, model = trained, None
    assert current is not None
    return model or RiskModel.from_bytes(current.artifact), current


def _due_for_training(tenant: Tenant, current: ModelVersion, today: date) -> bool:
    """True when the tenant's usable model should be retrained: older than a week, or still the shared
    pooled one. A recent attempt counts too: after "not enough history" the next try is on the next day
    (new invoices may have synced), after a rejected candidate a week later, as after a success;
    otherwise the active model's old training date would start a training on every scoring run."""
    if tenant.model_attempted_on is not None:
        wait = timedelta(0) if tenant.model_attempt == NOT_ENOUGH_HISTORY else RETRAIN_AFTER
        if today - tenant.model_attempted_on <= wait:
            return False
    if current.tenant_id is None:
        return True
    return current.trained_to is not None and today - current.trained_to > RETRAIN_AFTER


def _readable(version: ModelVersion | None) -> RiskModel | None:
    if version is None:
        return None
    try:
        return RiskModel.from_bytes(version.artifact)
    except ArtifactError as exc:
        logger.info("model %s cannot be used by this release (%s); retraining", version.version, exc)
        return None
