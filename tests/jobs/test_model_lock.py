"""One trainer or switcher of a tenant's active model at a time: the scoring job (which may retrain),
`cashline model train-tenant`, `activate-tenant` and `score-tenant` hold the tenant's model lock in Redis
(real Redis here), a name apart from the mirror lock so that a retrain does not hold up syncs."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from addon.cli.model_tenant import group
from addon.domain.scoring.train import TrainConfig, train_model
from addon.models import AuditLog, ModelVersion
from addon.queueing import get_queue
from addon.services import scoring, tenant_lock
from addon.services.scoring_prior import after_last_date, generated_history
from jobs import scoring as scoring_jobs
from jobs.runtime import set_app


@pytest.fixture(scope="module")
def artifact() -> bytes:
    history = generated_history(101, "balanced", 10, 300)
    return train_model(history, after_last_date(history),
                       TrainConfig(classifier_rounds=20, quantile_rounds=20, nthread=1)).to_bytes()


@pytest.fixture
def registered(db, make_tenant, artifact):  # type: ignore[no-untyped-def]
    """A tenant with an active model version and an inactive one."""
    tenant = make_tenant()
    for version, active in (("t-old", False), ("t-current", True)):
        db.add(ModelVersion(tenant_id=tenant.id, version=version, kind="tenant", trained_from=date(2025, 1, 1),
                            trained_to=date(2026, 10, 1), metrics={}, artifact=artifact, active=active))
    db.commit()
    return tenant


def _active(db, tenant) -> list[str]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return list(db.scalars(select(ModelVersion.version).where(ModelVersion.tenant_id == tenant.id,
                                                              ModelVersion.active)))


def test_the_scoring_job_defers_itself_while_the_tenants_model_is_locked(app, db, redis_conn, make_tenant,
                                                                        monkeypatch) -> None:
    tenant = make_tenant()
    db.commit()
    ran: list[int] = []
    monkeypatch.setattr(scoring, "score_tenant", lambda session, t, **kw: ran.append(t.id))
    monkeypatch.setitem(app.config, "TENANT_LOCK_WAIT", 0.1)
    set_app(app)
    with tenant_lock.hold(redis_conn, [tenant.id], wait=1, kind=tenant_lock.MODEL):  # e.g. activate-tenant
        assert scoring_jobs.score_tenant(tenant.id) == {"deferred": True}
    assert ran == []
    [job_id] = ScheduledJobRegistry(queue=get_queue("scoring", redis_conn)).get_job_ids()
    assert job_id.startswith(f"score-{tenant.id}-at-")


def test_the_scoring_job_does_not_wait_for_a_sync(app, db, redis_conn, make_tenant, monkeypatch) -> None:
    """A sync holds the mirror lock, not the model lock: scoring (and its retrain) goes on meanwhile."""
    tenant = make_tenant()
    db.commit()
    monkeypatch.setattr(scoring, "score_tenant",
                        lambda session, t, **kw: scoring.ScoringSummary(0, 0, "v", "tenant"))
    monkeypatch.setitem(app.config, "TENANT_LOCK_WAIT", 0.1)
    set_app(app)
    with tenant_lock.hold(redis_conn, [tenant.id], wait=1):
        assert scoring_jobs.score_tenant(tenant.id)["model_version"] == "v"
    assert ScheduledJobRegistry(queue=get_queue("scoring", redis_conn)).count == 0


@pytest.mark.parametrize("command", [
    ("activate-tenant", "--version", "t-old"), ("train-tenant",), ("score-tenant", "--no-write-back")])
def test_a_command_on_a_locked_tenant_waits_then_fails_clearly_changing_nothing(app, db, redis_conn, registered,
                                                                                command) -> None:
    tenant = registered
    with tenant_lock.hold(redis_conn, [tenant.id], wait=1, kind=tenant_lock.MODEL):  # e.g. a scoring job
        result = app.test_cli_runner().invoke(group, [command[0], "--tenant", str(tenant.id), *command[1:],
                                                      "--wait", "0.3"])
    assert result.exit_code == 1
    assert (f"tenant {tenant.id}: another job is training, activating or scoring this tenant's model "
            "(waited 0.3 s); nothing was changed. Try again later, or pass a longer --wait.") in result.output
    assert _active(db, tenant) == ["t-current"]
    assert db.query(ModelVersion).count() == 2
    assert db.query(AuditLog).count() == 0


def test_a_command_without_redis_fails_clearly_changing_nothing(app, db, redis_conn, registered, monkeypatch) -> None:
    import redis

    tenant = registered
    unreachable = redis.Redis.from_url("redis://127.0.0.1:1/7", socket_connect_timeout=1)  # nothing listens
    monkeypatch.setitem(app.extensions, "cashline_redis", unreachable)
    result = app.test_cli_runner().invoke(group, ["activate-tenant", "--tenant", str(tenant.id),
                                                  "--version", "t-old"])
    assert result.exit_code == 1
    assert f"tenant {tenant.id}: cannot reach Redis for the tenant's model lock (" in result.output
    assert "nothing was changed" in result.output
    assert _active(db, tenant) == ["t-current"]


def test_a_command_runs_once_the_lock_is_released_within_its_wait(app, db, redis_conn, registered) -> None:
    tenant = registered
    lock_taken, release = threading.Event(), threading.Event()

    def holder() -> None:
        with tenant_lock.hold(redis_conn, [tenant.id], wait=1, kind=tenant_lock.MODEL):
            lock_taken.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    assert lock_taken.wait(5)
    threading.Timer(0.5, release.set).start()
    result = app.test_cli_runner().invoke(group, ["activate-tenant", "--tenant", str(tenant.id),
                                                  "--version", "t-old", "--wait", "10"])
    thread.join(10)
    assert result.exit_code == 0, result.output
    assert _active(db, tenant) == ["t-old"]


def test_two_activations_at_once_both_succeed_one_after_the_other(app, db, redis_conn, registered) -> None:
    """Serialised by the lock: the second sees the first's choice and replaces it; never two active."""
    tenant = registered
    exit_codes: list[int] = []

    def activate(version: str) -> None:
        with app.app_context():
            try:
                exit_codes.append(app.test_cli_runner().invoke(group, [
                    "activate-tenant", "--tenant", str(tenant.id), "--version", version]).exit_code)
            finally:
                app.extensions["cashline_db"].remove_session()

    threads = [threading.Thread(target=activate, args=(v,)) for v in ("t-old", "t-current")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert exit_codes == [0, 0]
    assert len(_active(db, tenant)) == 1
    # Each saw the state the other left: at most one of them can have found nothing to change.
    audits = db.scalars(select(AuditLog).where(AuditLog.action == "model.activated_by_hand")
                        .order_by(AuditLog.id)).all()
    assert [a.before["active"] for a in audits] in (["t-current"], ["t-current", "t-old"])
