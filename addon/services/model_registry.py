"""The model registry (``model_versions``) read and changed by hand: which model a tenant scores with,
every version it has, and activating one of them (a model the quality gate rejected, or a rollback to an
earlier one) without retraining.

Training registers versions (``scoring_training.train_for_tenant``); this module lists and switches them.
At most one version per tenant is active: the database refuses a second (a partial unique index, see
``models.scoring``), ``make_active`` switches in an order that never trips it, and every caller holds the
tenant's model lock (``tenant_lock.MODEL``) so two switches do not race into that refusal.

The shared pooled model (``tenant_id`` NULL, the cold-start model of every tenant without one of its own)
follows the same rules: at most one is active (its own partial unique index), ``activate_pooled_model``
registers or re-activates one and switches with ``make_pooled_active``, and its caller holds the model lock
of ``tenant_lock.POOLED`` (``cashline:tenant-model:0``; no tenant has id 0).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session, defer

from addon.domain.scoring.model import ArtifactError, RiskModel
from addon.models import AuditLog, ModelVersion, Tenant

logger = logging.getLogger(__name__)

# Tenant.model_attempt after an activation by hand: like a training, it holds until the weekly retrain
# (``scoring_training._due_for_training``), so a rollback is not undone by a retrain on the next scoring run.
ACTIVATED_BY_HAND = "activated_by_hand"


class ModelRegistryError(ValueError):
    """A model version that cannot be activated for the tenant; the message says why."""


@dataclass(frozen=True, slots=True)
class Activation:
    """The outcome of ``activate_model``: the version now active, the one before it, and whether it changed."""

    model: ModelVersion
    previous: str | None
    changed: bool


def active_model(session: Session, tenant: Tenant) -> ModelVersion | None:
    """The model the tenant scores with: its own active one, else the shared pooled one (None: neither)."""
    own = session.scalar(select(ModelVersion).where(ModelVersion.tenant_id == tenant.id, ModelVersion.active)
                         .order_by(ModelVersion.id.desc()))
    return own or session.scalar(select(ModelVersion).where(ModelVersion.tenant_id.is_(None), ModelVersion.active)
                                 .order_by(ModelVersion.id.desc()))


def tenant_models(session: Session, tenant: Tenant) -> list[ModelVersion]:
    """Every model version registered for the tenant, newest first (artifacts not loaded)."""
    return list(session.scalars(select(ModelVersion).options(defer(ModelVersion.artifact))
                                .where(ModelVersion.tenant_id == tenant.id).order_by(ModelVersion.id.desc())))


def activate_model(session: Session, tenant: Tenant, version: str, *, actor: str, today: date,
                   reason: str | None = None) -> Activation:
    """Make ``version`` (one of the tenant's registered models) the tenant's active model, audited.

    Refused with ModelRegistryError, changing nothing, when the version is unknown, belongs to another
    tenant or is the shared pooled model, or its artifact cannot be loaded by this release. Activating the
    model already active changes nothing and writes no audit row.
    """
    row = _activatable(session, tenant, version)
    current = active_model(session, tenant)
    previous = current.version if current is not None else None
    if current is not None and current.id == row.id:
        return Activation(row, previous, changed=False)
    make_active(session, tenant, row)
    tenant.model_attempted_on, tenant.model_attempt = today, ACTIVATED_BY_HAND
    verdict = (row.metrics or {}).get("gate", {}).get("outcome")
    session.add(AuditLog(tenant_id=tenant.id, actor=actor, action="model.activated_by_hand",
                         object_type="model_version", object_id=row.version, before={"active": previous},
                         after={"active": row.version, "gate_outcome": verdict},
                         reason=reason or f"activated by hand (quality gate verdict: {verdict or 'none'})"))
    session.flush()
    logger.warning("tenant %s: model %s activated by hand by %s (was %s)", tenant.id, row.version, actor, previous)
    return Activation(row, previous, changed=True)


def make_active(session: Session, tenant: Tenant, row: ModelVersion) -> None:
    """Make ``row`` (a flushed version of ``tenant``) its only active model, in the caller's transaction.

    The others are deactivated and flushed before ``row`` is activated: the unit of work orders UPDATEs of
    one table by primary key, so an older ``row`` switched on in the same flush would be written first and
    the one-active index would refuse it."""
    if row.tenant_id != tenant.id or row.id is None:
        raise ModelRegistryError(f"model version {row.version!r} is not a registered model of tenant {tenant.id}")
    _switch(session, ModelVersion.tenant_id == tenant.id, row)


def make_pooled_active(session: Session, row: ModelVersion) -> None:
    """Make ``row`` (a flushed pooled version) the only active pooled model, in the caller's transaction,
    switching in the same order as ``make_active`` (the one-active-pooled index would refuse the other)."""
    if row.tenant_id is not None or row.id is None:
        raise ModelRegistryError(f"model version {row.version!r} is not a registered pooled model")
    _switch(session, ModelVersion.tenant_id.is_(None), row)


def _switch(session: Session, owner: ColumnElement[bool], row: ModelVersion) -> None:
    session.flush()  # pending changes first, so the UPDATE below sees every active row
    session.execute(update(ModelVersion).where(owner, ModelVersion.active, ModelVersion.id != row.id)
                    .values(active=False).execution_options(synchronize_session="fetch"))
    row.active = True
    session.flush()


def activate_pooled_model(session: Session, artifact: bytes, *, actor: str,
                          reason: str | None = None) -> Activation:
    """Register the pooled model ``artifact`` (``cashline model train-prior``'s file) as ``pooled-<version>``,
    or find it registered already, and make it the only active pooled model, audited. The caller holds the
    pooled model lock (``tenant_lock.POOLED``) and commits.

    Refused with ModelRegistryError, changing nothing: an artifact this release cannot load, one that is not
    a pooled model (a tenant's model would score every cold tenant on one company's customers), or a version
    already registered to a tenant. Activating the pooled model already active changes nothing."""
    try:
        model = RiskModel.from_bytes(artifact)
    except ArtifactError as exc:
        raise ModelRegistryError(f"the artifact cannot be loaded by this release ({exc}); train it again "
                                 "(`cashline model train-prior`)") from exc
    if not model.metadata.get("pooled_prior"):
        raise ModelRegistryError(f"model {model.version} is not a pooled model (train one with "
                                 "`cashline model train-prior`)")
    version = f"pooled-{model.version}"
    row = session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    if row is not None and row.tenant_id is not None:
        raise ModelRegistryError(f"model version {version!r} belongs to tenant {row.tenant_id}")
    current = session.scalar(select(ModelVersion).where(ModelVersion.tenant_id.is_(None), ModelVersion.active)
                             .order_by(ModelVersion.id.desc()))
    previous = current.version if current is not None else None
    if row is None:
        trained_from, trained_to = training_window(model)
        row = ModelVersion(tenant_id=None, version=version, kind="pooled", trained_from=trained_from,
                           trained_to=trained_to, metrics=model.metadata.get("metrics") or {},
                           artifact=artifact, active=False)
        session.add(row)
        session.flush()
    elif current is not None and current.id == row.id:
        return Activation(row, previous, changed=False)
    make_pooled_active(session, row)
    session.add(AuditLog(tenant_id=None, actor=actor, action="model.pooled_activated", object_type="model_version",
                         object_id=row.version, before={"active": previous}, after={"active": row.version},
                         reason=reason or "pooled model activated"))
    session.flush()
    logger.warning("pooled model %s activated by %s (was %s)", row.version, actor, previous)
    return Activation(row, previous, changed=True)


def training_window(model: RiskModel) -> tuple[date | None, date | None]:
    """The first and last day of the model's training window, as its metadata records them (None where an
    artifact from elsewhere lacks them or holds something that is no date)."""
    window = model.metadata.get("training_window") or {}
    return _day(window.get("start")), _day(window.get("end"))


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _activatable(session: Session, tenant: Tenant, version: str) -> ModelVersion:
    """The registry row of ``version`` if the tenant may activate it, else a ModelRegistryError saying why."""
    row = session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    if row is None:
        raise ModelRegistryError(f"no model version {version!r} in the registry "
                                 f"(`cashline model list-tenant --tenant {tenant.id}` lists this tenant's)")
    if row.tenant_id is None:
        raise ModelRegistryError(f"model version {version!r} is the shared pooled model, not one of tenant "
                                 f"{tenant.id}'s")
    if row.tenant_id != tenant.id:
        raise ModelRegistryError(f"model version {version!r} belongs to tenant {row.tenant_id}, not tenant {tenant.id}")
    if not row.artifact:
        raise ModelRegistryError(f"model version {version!r} has no artifact; retrain instead "
                                 "(`cashline model train-tenant`)")
    try:
        RiskModel.from_bytes(row.artifact)
    except ArtifactError as exc:
        raise ModelRegistryError(f"model version {version!r} cannot be loaded by this release ({exc}); retrain "
                                 "instead (`cashline model train-tenant`)") from exc
    return row
