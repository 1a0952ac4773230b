"""Test-wide safety nets: no network beyond loopback."""

from __future__ import annotations

import ipaddress
import socket

import pytest

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        if host in ("localhost", ""):
            return True
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False
    return True  # AF_UNIX sockets (PostgreSQL's local socket) stay on the machine


def _guarded(real):  # type: ignore[no-untyped-def]
    def connect(self, address):  # type: ignore[no-untyped-def]
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise RuntimeError(f"test tried to reach a non-loopback address: {address!r}")
        return real(self, address)

    return connect


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded(_real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded(_real_connect_ex))


# --- real services: the SQL database and Redis -------------------------------------------------
import os  # noqa: E402
from collections.abc import Iterator  # noqa: E402

from cryptography.fernet import Fernet  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_REDIS_DB = int(os.environ.get("CASHLINE_TEST_REDIS_DB", "13"))
REDIS_BASE = os.environ.get("CASHLINE_TEST_REDIS", "redis://127.0.0.1:6379")


def _unavailable(what: str, exc: BaseException) -> None:
    # Under CI an unreachable service is a failure: a green run must mean the tests really ran.
    message = f"{what} is unreachable ({type(exc).__name__}: {exc})"
    if IN_CI:
        pytest.fail(message + " — CI=true requires it", pytrace=False)
    pytest.skip(message)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if {"app", "db", "client", "make_tenant", "database_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)
        if {"redis_conn", "redis_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.redis)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """TEST_DATABASE_URL (PostgreSQL in CI's second pass) or a fresh SQLite file, migrated to head."""
    from sqlalchemy import text

    from addon import migrate
    from addon.extensions import make_engine
    from addon.models import Base

    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        _unavailable(f"database {engine.url.render_as_string(hide_password=True)}", exc)
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    url = f"{REDIS_BASE}/{TEST_REDIS_DB}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        _unavailable(f"Redis at {REDIS_BASE}", exc)
    return url


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[object]:
    """The real Redis, on a dedicated db number, flushed before and after each test."""
    import redis

    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture(scope="session")
def app_config(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return {
        "CASHLINE_ENV": "test",
        "TESTING": True,
        "DATABASE_URL": database_url,
        "REDIS_URL": f"{REDIS_BASE}/{TEST_REDIS_DB}",
        "SECRET_KEY": "test-secret-key",
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PUBLIC_URL": "http://127.0.0.1:5000",
        "LOG_LEVEL": "WARNING",
        # A small pooled prior keeps cold-start scoring in tests to a second or two.
        "SCORING_PRIOR_INVOICES": 300,
        "SCORING_PRIOR_SEEDS": "101",
    }


@pytest.fixture(scope="session")
def _session_app(app_config: dict[str, object]) -> Iterator[object]:
    from addon import create_app

    app = create_app(app_config)
    yield app
    app.extensions["cashline_db"].dispose()


@pytest.fixture
def app(_session_app: object) -> Iterator[object]:
    """The app with an app context pushed; every table is emptied after the test (works even when
    other threads or processes committed, unlike a rollback-only fixture)."""
    from addon.models import Base

    flask_app = _session_app
    saved_config = dict(flask_app.config)  # type: ignore[attr-defined]
    ctx = flask_app.app_context()  # type: ignore[attr-defined]
    ctx.push()
    try:
        yield flask_app
    finally:
        # A test that reconfigures the shared app (emulator URLs, connector factory) must not leak it.
        flask_app.config.clear()  # type: ignore[attr-defined]
        flask_app.config.update(saved_config)  # type: ignore[attr-defined]
        db = flask_app.extensions["cashline_db"]  # type: ignore[attr-defined]
        db.session.rollback()
        db.remove_session()
        with db.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
        ctx.pop()


@pytest.fixture
def db(app: object) -> object:
    """The SQLAlchemy session of the app under test."""
    return app.extensions["cashline_db"].session  # type: ignore[attr-defined]


@pytest.fixture
def client(app: object) -> object:
    return app.test_client()  # type: ignore[attr-defined]


@pytest.fixture
def make_tenant(db: object):  # type: ignore[no-untyped-def]
    """Factory: ``make_tenant(platform='xero', name=...)`` -> a flushed Tenant."""
    from addon.models import Tenant

    counter = {"n": 0}

    def _make(**overrides: object) -> Tenant:
        counter["n"] += 1
        values: dict[str, object] = {"platform": "fake", "remote_id": f"tenant-{counter['n']}",
                                     "name": f"Tenant {counter['n']}", "base_currency": "GBP", "country": "GB"}
        # As a sync with the in-memory platform leaves it (its organisation: GBP, GB).
        values.update(overrides)
        tenant = Tenant(**values)
        db.add(tenant)  # type: ignore[attr-defined]
        db.flush()  # type: ignore[attr-defined]
        return tenant

    return _make


@pytest.fixture
def sign_in(client, db):  # type: ignore[no-untyped-def]
    """``sign_in(tenant, role)``: a user with that role on the tenant, signed in on ``client``."""
    from addon.models import Membership, Role, Tenant, User

    def _sign_in(tenant: Tenant, role: Role = Role.ADMIN) -> User:
        user = User(issuer="https://issuer.example", subject=f"user-{role.value}-{tenant.id}",
                    email=f"{role.value}@example.test", name=role.value.title())
        db.add(user)
        db.flush()
        db.add(Membership(tenant_id=tenant.id, user_id=user.id, role=role))
        db.commit()
        with client.session_transaction() as s:
            s["user_id"] = user.id
        return user

    return _sign_in




@pytest.fixture(autouse=True)
def _forget_job_app() -> Iterator[None]:
    """Jobs remember the app a worker set (jobs.runtime.set_app); tests start without one."""
    yield
    import jobs.runtime

    jobs.runtime._app = None
