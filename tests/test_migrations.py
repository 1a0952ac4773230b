"""Migrations: one head, a full up/down/up cycle on an empty database, and no drift from the models."""

from __future__ import annotations

import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from addon import migrate
from addon.extensions import make_engine
from addon.models import Base, TenantStatus


@pytest.fixture
def empty_database_url(tmp_path, database_url):
    """A throwaway empty database on the same backend as the suite (a PG schema, or a SQLite file)."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    schema = f"mig_{uuid.uuid4().hex[:8]}"
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in database_url else "?"
    yield f"{database_url}{sep}options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def test_single_head() -> None:
    assert len(migrate.heads("sqlite://")) == 1


def test_upgrade_downgrade_upgrade_on_empty_database(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    migrate.downgrade(empty_database_url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(empty_database_url)
    assert migrate.at_head(engine)
    engine.dispose()


def test_models_and_migrations_agree(database_url: str) -> None:
    """The equivalent of `alembic check`: autogenerate finds nothing to do."""
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"


def test_migration_files_follow_naming_convention() -> None:
    names = [n for n in os.listdir(migrate.MIGRATIONS_DIR / "versions") if n.endswith(".py")]
    assert names
    for name in names:
        parts = name.split("_")
        assert len(parts[0]) == 8, name  # YYYYMMDD
        assert parts[0].isdigit(), name
        assert len(parts) >= 4, f"{name} needs a slug"


def test_0009_keeps_only_the_newest_active_model_of_each_tenant(empty_database_url: str, caplog) -> None:
    """Tenants left with several active models (activations that raced before the one-active index) keep
    the newest, the one scoring used; the others are deactivated, logged, and kept. Pooled rows (no tenant)
    are left alone."""
    migrate.upgrade(empty_database_url, "0008_webhook_not_before")
    engine = make_engine(empty_database_url)
    tenants, versions = Base.metadata.tables["tenants"], Base.metadata.tables["model_versions"]
    with engine.begin() as conn:
        for tenant_id in (1, 2):
            conn.execute(tenants.insert().values(id=tenant_id, platform="fake", remote_id=f"org-{tenant_id}",
                                                 name=f"Tenant {tenant_id}", status=TenantStatus.CONNECTED,
                                                 settings={}))
        for row_id, tenant_id, active in ((1, 1, True), (2, 1, True), (3, 1, False), (4, 1, True),
                                          (5, 2, True), (6, None, True), (7, None, True)):
            conn.execute(versions.insert().values(id=row_id, tenant_id=tenant_id, version=f"v{row_id}",
                                                  kind="tenant" if tenant_id else "pooled", metrics={},
                                                  artifact=b"model", active=active))
    with caplog.at_level("WARNING"):
        migrate.upgrade(empty_database_url)
    with engine.connect() as conn:
        active = conn.execute(select(versions.c.id).where(versions.c.active).order_by(versions.c.id)).scalars()
        assert list(active) == [4, 5, 6, 7]
        assert conn.execute(select(func.count()).select_from(versions)).scalar() == 7
    warnings = [r.getMessage() for r in caplog.records if "several active models" in r.getMessage()]
    assert warnings == ["tenant 1 had several active models: deactivated v2, kept v4",
                        "tenant 1 had several active models: deactivated v1, kept v4"]
    with engine.begin() as conn, pytest.raises(IntegrityError):
        conn.execute(versions.update().where(versions.c.id == 3).values(active=True))
    engine.dispose()
