"""At most one active model per tenant, and one active pooled model: the database refuses a second one
(partial unique indexes), activations switch in an order the indexes allow, and two activations racing on
PostgreSQL leave one.

The model-lock side (the scoring job deferring, the CLI's bounded wait) is in tests/jobs/test_model_lock.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from addon.domain.scoring.train import TrainConfig, train_model
from addon.models import ModelVersion, Tenant
from addon.services.model_registry import activate_model, make_pooled_active
from addon.services.scoring_prior import after_last_date, generated_history

TODAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def artifact() -> bytes:
    """A small but real model artifact (activation refuses one this release cannot load)."""
    history = generated_history(101, "balanced", 10, 300)
    return train_model(history, after_last_date(history),
                       TrainConfig(classifier_rounds=20, quantile_rounds=20, nthread=1)).to_bytes()


def _version(db, tenant_id: int | None, version: str, artifact: bytes, *, active: bool) -> ModelVersion:  # type: ignore[no-untyped-def]
    row = ModelVersion(tenant_id=tenant_id, version=version, kind="tenant" if tenant_id else "pooled",
                       trained_from=date(2025, 1, 1), trained_to=date(2026, 10, 1), metrics={},
                       artifact=artifact, active=active)
    db.add(row)
    db.flush()
    return row


def _active(db, tenant_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return list(db.scalars(select(ModelVersion.version).where(ModelVersion.tenant_id == tenant_id,
                                                              ModelVersion.active).order_by(ModelVersion.id)))


def test_the_database_refuses_a_second_active_model_for_a_tenant(db, make_tenant, artifact) -> None:
    tenant, other = make_tenant(), make_tenant()
    _version(db, tenant.id, "t-first", artifact, active=True)
    _version(db, tenant.id, "t-old", artifact, active=False)  # inactive versions: as many as you like
    _version(db, other.id, "o-first", artifact, active=True)  # another tenant's active one is its own
    db.commit()
    with pytest.raises(IntegrityError):
        _version(db, tenant.id, "t-second", artifact, active=True)
    db.rollback()
    assert _active(db, tenant.id) == ["t-first"]


def test_the_database_refuses_a_second_active_pooled_model(db, make_tenant, artifact) -> None:
    """NULL tenant ids are distinct in a unique index (PostgreSQL and SQLite), so the pooled models have an
    index of their own (on the active flag of the active pooled rows): one active pooled model, beside any
    number of inactive ones and of tenants' active ones."""
    tenant = make_tenant()
    _version(db, None, "pooled-1", artifact, active=True)
    _version(db, None, "pooled-0", artifact, active=False)
    _version(db, tenant.id, "t-first", artifact, active=True)
    db.commit()
    with pytest.raises(IntegrityError):
        _version(db, None, "pooled-2", artifact, active=True)
    db.rollback()
    assert _active_pooled(db) == ["pooled-1"]
    assert _active(db, tenant.id) == ["t-first"]


def _active_pooled(db) -> list[str]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return list(db.scalars(select(ModelVersion.version).where(ModelVersion.tenant_id.is_(None), ModelVersion.active)
                           .order_by(ModelVersion.id)))


def test_activating_an_older_version_deactivates_the_newer_first(db, make_tenant, artifact) -> None:
    """The unit of work writes one table's UPDATEs in primary-key order: switching the older row on in the
    same flush as the newer one off would write the older first, which the index refuses."""
    tenant = make_tenant()
    older = _version(db, tenant.id, "t-older", artifact, active=False)
    _version(db, tenant.id, "t-newer", artifact, active=True)
    db.commit()
    done = activate_model(db, tenant, older.version, actor="test", today=TODAY)
    db.commit()
    assert (done.changed, done.previous) == (True, "t-newer")
    assert _active(db, tenant.id) == ["t-older"]


@pytest.mark.db
def test_two_activations_racing_on_postgresql_leave_one_active_model(app, db, make_tenant, artifact,
                                                                     database_url) -> None:
    """Two sessions activate different versions of one tenant at once, without the model lock (as two
    processes before it existed). The first holds its transaction open until the second is blocked inside
    its own switch; then it commits. The second's snapshot never saw the first's row active, so without the
    index it would commit a second active model; with it, it is refused and the first one stands."""
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks and concurrent transactions: PostgreSQL only")
    tenant = make_tenant()
    tenant_id = tenant.id
    _version(db, tenant_id, "t-current", artifact, active=True)
    _version(db, tenant_id, "t-a", artifact, active=False)
    _version(db, tenant_id, "t-b", artifact, active=False)
    db.commit()

    def switch(session: Session, version: str) -> None:
        activate_model(session, session.get_one(Tenant, tenant_id), version, actor=f"race-{version}", today=TODAY)

    outcome = _race(app.extensions["cashline_db"].engine, switch, "t-a", "t-b")
    assert outcome == {"t-a": "committed", "t-b": "refused: UniqueViolation"}
    assert _active(db, tenant_id) == ["t-a"]


@pytest.mark.db
def test_two_pooled_activations_racing_on_postgresql_leave_one_active_pooled_model(app, db, artifact,
                                                                                  database_url) -> None:
    """As above, for the shared pooled model: two sessions switch it at once without the pooled model lock;
    the index refuses the second."""
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks and concurrent transactions: PostgreSQL only")
    _version(db, None, "pooled-current", artifact, active=True)
    _version(db, None, "pooled-a", artifact, active=False)
    _version(db, None, "pooled-b", artifact, active=False)
    db.commit()

    def switch(session: Session, version: str) -> None:
        make_pooled_active(session, session.scalars(select(ModelVersion).where(ModelVersion.version == version)).one())

    outcome = _race(app.extensions["cashline_db"].engine, switch, "pooled-a", "pooled-b")
    assert outcome == {"pooled-a": "committed", "pooled-b": "refused: UniqueViolation"}
    assert _active_pooled(db) == ["pooled-a"]


def _race(engine: Any, switch: Callable[[Session, str], None], first_version: str,
          second_version: str) -> dict[str, str]:
    """Two sessions switch the active model at once: the first flushes its switch and holds its transaction
    open until the second is blocked inside its own, then commits. What became of each."""
    first_flushed, outcome = threading.Event(), {}

    def activate(version: str, hold_until_other_waits: bool) -> None:
        with Session(engine) as session:
            try:
                switch(session, version)
                if hold_until_other_waits:
                    first_flushed.set()
                    _wait_for_a_blocked_backend(session)
                session.commit()
                outcome[version] = "committed"
            except IntegrityError as exc:
                session.rollback()
                outcome[version] = f"refused: {exc.orig.__class__.__name__}"

    first = threading.Thread(target=activate, args=(first_version, True))
    first.start()
    assert first_flushed.wait(20)
    second = threading.Thread(target=activate, args=(second_version, False))
    second.start()
    first.join(30)
    second.join(30)
    return outcome


def _wait_for_a_blocked_backend(session: Session) -> None:
    """Wait until another backend of this database waits on a lock (the second activation, blocked on the
    row this session's switch updated)."""
    deadline = time.monotonic() + 20
    with session.get_bind().connect() as probe:  # type: ignore[union-attr]
        while time.monotonic() < deadline:
            waiting = probe.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                         "AND wait_event_type = 'Lock'")).scalar()
            probe.commit()
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError("the second activation never blocked on the first")
