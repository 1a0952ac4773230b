"""The shared pooled model: `cashline model activate-prior` registers a pooled artifact and makes it the only
active pooled model, under the pooled model lock (real database and Redis)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from addon.cli.model_tenant import group
from addon.domain.scoring.model import RiskModel
from addon.domain.scoring.train import TrainConfig, train_model
from addon.models import AuditLog, ModelVersion
from addon.services import tenant_lock
from addon.services.model_registry import ModelRegistryError, activate_pooled_model, active_model, make_pooled_active
from addon.services.scoring_prior import after_last_date, generated_history


def _model(seed: int, pooled: bool = True) -> bytes:
    history = generated_history(seed, "balanced", 10, 300)
    model = train_model(history, after_last_date(history),
                        TrainConfig(classifier_rounds=10, quantile_rounds=10, nthread=1))
    if pooled:
        model.metadata["pooled_prior"] = True  # as `cashline model train-prior` marks it
    return model.to_bytes()


@pytest.fixture(scope="module")
def priors() -> tuple[bytes, bytes]:
    return _model(101), _model(202)


def _active_pooled(db) -> list[str]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return list(db.scalars(select(ModelVersion.version).where(ModelVersion.tenant_id.is_(None), ModelVersion.active)
                           .order_by(ModelVersion.id)))


def _pooled_version(artifact: bytes) -> str:
    return f"pooled-{RiskModel.from_bytes(artifact).version}"


def test_activating_a_pooled_model_registers_it_and_deactivates_the_previous(db, make_tenant, priors) -> None:
    first, second = priors
    tenant = make_tenant()
    done = activate_pooled_model(db, first, actor="test")
    db.commit()
    assert (done.changed, done.previous, done.model.kind, done.model.tenant_id) == (True, None, "pooled", None)
    assert done.model.trained_to is not None
    again = activate_pooled_model(db, first, actor="test")  # already active: nothing changes
    assert (again.changed, again.model.id) == (False, done.model.id)
    switched = activate_pooled_model(db, second, actor="test", reason="new generator")
    db.commit()
    assert (switched.changed, switched.previous) == (True, _pooled_version(first))
    assert _active_pooled(db) == [_pooled_version(second)]
    assert active_model(db, tenant).version == _pooled_version(second)  # what a cold tenant scores with
    # Back to the first: found registered (not a second row), switched on after the newer one is switched off.
    back = activate_pooled_model(db, first, actor="test")
    db.commit()
    assert (back.changed, back.model.id) == (True, done.model.id)
    assert _active_pooled(db) == [_pooled_version(first)]
    assert db.query(ModelVersion).count() == 2
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "model.pooled_activated").order_by(AuditLog.id))
    assert [(a.tenant_id, a.before, a.after["active"]) for a in audit] == [
        (None, {"active": None}, _pooled_version(first)),
        (None, {"active": _pooled_version(first)}, _pooled_version(second)),
        (None, {"active": _pooled_version(second)}, _pooled_version(first))]


@pytest.mark.parametrize("bad", ["unreadable", "tenant model", "a tenant's version"])
def test_a_pooled_activation_is_refused_clearly_changing_nothing(db, make_tenant, priors, bad) -> None:
    first, _ = priors
    activate_pooled_model(db, first, actor="test")
    db.commit()
    if bad == "unreadable":
        artifact, message = b"not a zip", "cannot be loaded by this release"
    elif bad == "tenant model":
        artifact, message = _model(303, pooled=False), "is not a pooled model"
    else:
        artifact, tenant = _model(404), make_tenant()
        db.add(ModelVersion(tenant_id=tenant.id, version=_pooled_version(artifact), kind="tenant",
                            trained_from=date(2025, 1, 1), metrics={}, artifact=artifact, active=False))
        db.commit()
        message = f"belongs to tenant {tenant.id}"
    with pytest.raises(ModelRegistryError, match=message):
        activate_pooled_model(db, artifact, actor="test")
    db.rollback()
    assert _active_pooled(db) == [_pooled_version(first)]


def test_make_pooled_active_refuses_a_tenants_model(db, make_tenant, priors) -> None:
    tenant = make_tenant()
    row = ModelVersion(tenant_id=tenant.id, version="t-1", kind="tenant", metrics={}, artifact=priors[0],
                       active=False)
    db.add(row)
    db.flush()
    with pytest.raises(ModelRegistryError, match="not a registered pooled model"):
        make_pooled_active(db, row)


def test_activate_prior_command(app, db, redis_conn, priors, tmp_path) -> None:
    first, second = priors
    paths = []
    for n, artifact in enumerate(priors):
        paths.append(tmp_path / f"prior-{n}.zip")
        paths[-1].write_bytes(artifact)
    runner = app.test_cli_runner()
    out = runner.invoke(group, ["activate-prior", "--artifact", str(paths[0])])
    assert out.exit_code == 0, out.output
    assert f"{_pooled_version(first)} is now the active pooled model (was none)." in out.output
    out = runner.invoke(group, ["activate-prior", "--artifact", str(paths[1]), "--json", "--reason", "regenerated"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert (result["model_version"], result["previous"], result["changed"]) == (
        _pooled_version(second), _pooled_version(first), True)
    assert _active_pooled(db) == [_pooled_version(second)]
    assert "already the active pooled model" in runner.invoke(group, ["activate-prior", "--artifact",
                                                                      str(paths[1])]).output
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"junk")
    out = runner.invoke(group, ["activate-prior", "--artifact", str(junk)])
    assert out.exit_code != 0
    assert "cannot be loaded by this release" in out.output
    assert "nothing was changed" in out.output
    assert _active_pooled(db) == [_pooled_version(second)]


def test_activate_prior_waits_for_the_pooled_model_lock_then_fails_changing_nothing(app, db, redis_conn, priors,
                                                                                    tmp_path) -> None:
    path = tmp_path / "prior.zip"
    path.write_bytes(priors[0])
    with tenant_lock.hold(redis_conn, [tenant_lock.POOLED], wait=1, kind=tenant_lock.MODEL):
        out = app.test_cli_runner().invoke(group, ["activate-prior", "--artifact", str(path), "--wait", "0.2"])
    assert out.exit_code != 0
    assert ("pooled model: another command is activating the pooled model (waited 0.2 s); nothing was changed"
            in out.output)
    assert _active_pooled(db) == []
    assert redis_conn.exists(tenant_lock.MODEL.key(0)) == 0  # released
