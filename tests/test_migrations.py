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


def test_0009_adds_an_empty_home_rate_and_keeps_invoices(empty_database_url: str) -> None:
    """Invoices mirrored before 0009 keep every value and have no rate (the next sync brings it); the
    downgrade drops only the column."""
    migrate.upgrade(empty_database_url, "0008_webhook_not_before")
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants (id, platform, remote_id, name, status, settings, created_at, "
                          "updated_at) VALUES (1, 'fake', 't', 'T', 'connected', '{}', CURRENT_TIMESTAMP, "
                          "CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO invoices (id, tenant_id, remote_id, number, currency, issue_date, due_date, "
                          "total, amount_due, amount_paid, amount_credited, status, sent, disputed, created_at, "
                          "updated_at) VALUES (1, 1, 'r1', 'INV-1', 'JPY', '2026-11-01', '2026-12-01', 10000, "
                          "10000, 0, 0, 'open', false, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    migrate.upgrade(empty_database_url, "0009_invoice_home_rate")
    with engine.begin() as conn:
        row = conn.execute(text("SELECT number, amount_due, home_rate FROM invoices")).one()
        assert (row.number, float(row.amount_due), row.home_rate) == ("INV-1", 10000.0, None)
        conn.execute(text("UPDATE invoices SET home_rate = 0.0052493438"))
        assert str(conn.execute(text("SELECT home_rate FROM invoices")).scalar_one()).startswith("0.0052493438")
    migrate.downgrade(empty_database_url, "0008_webhook_not_before")
    assert "home_rate" not in {c["name"] for c in inspect(engine).get_columns("invoices")}
    with engine.begin() as conn:
        assert conn.execute(text("SELECT number FROM invoices")).scalar_one() == "INV-1"
    engine.dispose()


def test_0011_cancels_the_retry_rows_of_disconnected_tenants_only(empty_database_url: str) -> None:
    """Retry rows stranded by a disconnect from before the disconnect cancelled them are cancelled the same way
    (reason in front of the deferral, attempts kept, audited); other tenants' and other statuses' rows are not."""
    migrate.upgrade(empty_database_url, "0011_tenant_country")
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        for tenant_id, status in ((1, "disconnected"), (2, "connected"), (3, "needs_reauth")):
            conn.execute(text("INSERT INTO tenants (id, platform, remote_id, name, status, settings, created_at, "
                              "updated_at) VALUES (:id, 'fake', :rid, 'T', :status, '{}', CURRENT_TIMESTAMP, "
                              "CURRENT_TIMESTAMP)"), {"id": tenant_id, "rid": f"t{tenant_id}", "status": status})
        for action_id, tenant_id, key, status in ((1, 1, "INV-9:overdue_7", "retry"), (2, 1, "INV-9:due", "sent"),
                                                  (3, 1, "INV-8:final", "awaiting_approval"),
                                                  (4, 2, "INV-9:overdue_7", "retry"),
                                                  (5, 3, "INV-9:overdue_7", "retry")):
            conn.execute(text("INSERT INTO dunning_actions (id, tenant_id, exactly_once_key, stage_key, tone, channel, "
                              "status, error, attempts, retry_at, created_at, updated_at) VALUES (:id, :tenant, "
                              ":key, :stage, 'firm', 'email', :status, :error, :attempts, :retry_at, "
                              "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                         {"id": action_id, "tenant": tenant_id, "key": key, "stage": key.split(":")[1],
                          "status": status, "error": "452 mailbox full" if status == "retry" else None,
                          "attempts": 2 if status == "retry" else 0,
                          "retry_at": "2026-07-01 10:00:00" if status == "retry" else None})
    migrate.upgrade(empty_database_url)
    with engine.begin() as conn:
        rows = {r.id: r for r in conn.execute(text("SELECT id, status, error, attempts, retry_at FROM "
                                                    "dunning_actions"))}
        assert (rows[1].status, rows[1].attempts, rows[1].retry_at) == ("cancelled", 2, None)
        assert rows[1].error == "cancelled: the tenant disconnected (last deferral: 452 mailbox full)"
        assert {i: rows[i].status for i in (2, 3, 4, 5)} == {2: "sent", 3: "awaiting_approval", 4: "retry",
                                                             5: "retry"}
        audit = conn.execute(text("SELECT tenant_id, action, object_id, reason FROM audit_log")).all()
        assert [tuple(a) for a in audit] == [(1, "reminder.retry_cancelled", "INV-9", "the tenant disconnected")]
    migrate.downgrade(empty_database_url, "0011_tenant_country")  # nothing to undo, and it does not fail
    migrate.upgrade(empty_database_url)  # nothing left to cancel: no second audit record
    with engine.begin() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM audit_log")).scalar_one() == 1


def test_0013_keeps_only_the_newest_active_model_of_each_tenant(empty_database_url: str, caplog) -> None:
    """Tenants left with several active models (activations that raced before the one-active index) keep
    the newest, the one scoring used; the others are deactivated, logged, and kept. Pooled rows (no tenant)
    are left alone."""
    migrate.upgrade(empty_database_url, "0012_cancel_disconnected_retries")
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
        migrate.upgrade(empty_database_url, "0013_one_active_model")
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


def test_0018_puts_each_suppression_on_its_channel_and_back(empty_database_url: str) -> None:
    """Rows with an sms_* reason were mobile numbers: they become the SMS list, the rest the e-mail list; the
    same address may then be on both lists once, and the downgrade gives the one list back."""
    migrate.upgrade(empty_database_url, "0017_customer_mobile")
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants (id, platform, remote_id, name, status, settings, created_at, "
                          "updated_at) VALUES (1, 'fake', 't1', 'T', 'connected', '{}', CURRENT_TIMESTAMP, "
                          "CURRENT_TIMESTAMP)"))
        for row_id, address, reason in ((1, "ap@acme.example", "hard_bounce"), (2, "+447700900123", "sms_stop"),
                                        (3, "+15005550001", "sms_invalid"), (4, "boss@acme.example", "unsubscribed")):
            conn.execute(text("INSERT INTO suppressions (id, tenant_id, email, reason, created_at, updated_at) "
                              "VALUES (:id, 1, :address, :reason, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                         {"id": row_id, "address": address, "reason": reason})
    migrate.upgrade(empty_database_url, "0018_suppression_channel")
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT id, channel, address, reason FROM suppressions ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "email", "ap@acme.example", "hard_bounce"),
                                            (2, "sms", "+447700900123", "sms_stop"),
                                            (3, "sms", "+15005550001", "sms_invalid"),
                                            (4, "email", "boss@acme.example", "unsubscribed")]
    insert = text("INSERT INTO suppressions (id, tenant_id, channel, address, reason, created_at, updated_at) "
                  "VALUES (:id, 1, :channel, :address, 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
    with engine.begin() as conn:
        conn.execute(insert, {"id": 5, "channel": "sms", "address": "ap@acme.example"})  # another list: allowed
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert, {"id": 6, "channel": "sms", "address": "+447700900123"})  # twice on one list: refused
    migrate.downgrade(empty_database_url, "0017_customer_mobile")
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT id, email, reason FROM suppressions ORDER BY id")).all()
        assert [r.id for r in rows] == [1, 2, 3, 4]  # the duplicate on the other list went, the email row stays
        with pytest.raises(IntegrityError):
            conn.execute(text("INSERT INTO suppressions (id, tenant_id, email, reason, created_at, updated_at) "
                              "VALUES (7, 1, 'ap@acme.example', 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    engine.dispose()


def test_0019_keeps_one_hold_per_customer(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url, "0019_dunning_holds")
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants (id, platform, remote_id, name, status, settings, created_at, "
                          "updated_at) VALUES (1, 'fake', 't1', 'T', 'connected', '{}', CURRENT_TIMESTAMP, "
                          "CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO customers (id, tenant_id, remote_id, name, emails, bank_accounts, archived, "
                          "created_at, updated_at) VALUES (1, 1, 'c1', 'Acme', '[]', '[]', false, "
                          "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    hold = text("INSERT INTO dunning_holds (tenant_id, customer_id, reason, until, set_by, set_at, created_at, "
                "updated_at) VALUES (1, 1, 'payment plan agreed', :until, 'user:1', CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
    with engine.begin() as conn:
        conn.execute(hold, {"until": "2027-01-15"})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(hold, {"until": None})
    migrate.downgrade(empty_database_url, "0018_suppression_channel")
    assert "dunning_holds" not in inspect(engine).get_table_names()
    engine.dispose()


def test_0020_keeps_only_the_newest_active_pooled_model(empty_database_url: str, caplog) -> None:
    """Several active pooled models (no tenant; 0013's index let them be) keep the newest, the one scoring
    used; the others are deactivated, logged, and kept. Tenants' models are left alone. Then the database
    refuses a second active pooled model."""
    migrate.upgrade(empty_database_url, "0019_dunning_holds")
    engine = make_engine(empty_database_url)
    tenants, versions = Base.metadata.tables["tenants"], Base.metadata.tables["model_versions"]
    with engine.begin() as conn:
        conn.execute(tenants.insert().values(id=1, platform="fake", remote_id="org-1", name="Tenant 1",
                                             status=TenantStatus.CONNECTED, settings={}))
        for row_id, tenant_id, active in ((1, None, True), (2, None, False), (3, 1, True), (4, None, True),
                                          (5, None, True), (6, 1, False)):
            conn.execute(versions.insert().values(id=row_id, tenant_id=tenant_id, version=f"v{row_id}",
                                                  kind="tenant" if tenant_id else "pooled", metrics={},
                                                  artifact=b"model", active=active))
    with caplog.at_level("WARNING"):
        migrate.upgrade(empty_database_url)
    with engine.connect() as conn:
        active = conn.execute(select(versions.c.id).where(versions.c.active).order_by(versions.c.id)).scalars()
        assert list(active) == [3, 5]
        assert conn.execute(select(func.count()).select_from(versions)).scalar() == 6
    warnings = [r.getMessage() for r in caplog.records if "several active pooled models" in r.getMessage()]
    assert warnings == ["several active pooled models: deactivated v4, kept v5",
                        "several active pooled models: deactivated v1, kept v5"]
    with engine.begin() as conn, pytest.raises(IntegrityError):
        conn.execute(versions.update().where(versions.c.id == 2).values(active=True))
    migrate.downgrade(empty_database_url, "0019_dunning_holds")  # the index goes; the repair stays
    with engine.begin() as conn:
        conn.execute(versions.update().where(versions.c.id == 2).values(active=True))
    migrate.upgrade(empty_database_url)  # repaired again on the way up
    with engine.connect() as conn:
        active = conn.execute(select(versions.c.id).where(versions.c.active).order_by(versions.c.id)).scalars()
        assert list(active) == [3, 5]
    engine.dispose()


def test_0021_adds_an_empty_customer_country_and_keeps_customers(empty_database_url: str) -> None:
    """Customers mirrored before 0021 keep every value and have no country (the next sync brings it); the
    downgrade drops only the column."""
    migrate.upgrade(empty_database_url, "0020_one_active_pooled_model")
    engine = make_engine(empty_database_url)
    tenants, customers = Base.metadata.tables["tenants"], Base.metadata.tables["customers"]
    with engine.begin() as conn:
        conn.execute(tenants.insert().values(id=1, platform="fake", remote_id="org-1", name="Tenant 1",
                                             status=TenantStatus.CONNECTED, settings={}))
        conn.execute(customers.insert().values(id=1, tenant_id=1, remote_id="C1", name="Acme GmbH", emails=[],
                                               bank_accounts=[], archived=False, mobile="+4930123456"))
    migrate.upgrade(empty_database_url)
    with engine.begin() as conn:
        row = conn.execute(select(customers.c.name, customers.c.mobile, customers.c.country)).one()
        assert tuple(row) == ("Acme GmbH", "+4930123456", None)
        conn.execute(customers.update().values(country="DE"))
    migrate.downgrade(empty_database_url, "0020_one_active_pooled_model")
    assert "country" not in {c["name"] for c in inspect(engine).get_columns("customers")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, mobile FROM customers")).one() == ("Acme GmbH", "+4930123456")
    engine.dispose()
