"""Database and Redis handles, created in ``create_app`` (nothing connects at import time)."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Flask, current_app
from redis import Redis
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from addon.models import Base

M = TypeVar("M", bound=Base)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets foreign keys on and a busy timeout (it is the demo default)."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
    kwargs.setdefault("pool_pre_ping", not url.startswith("sqlite"))
    engine = create_engine(url, future=True, **kwargs)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()
    return engine


class Database:
    """One engine and one scoped session per app (per thread), like Flask-SQLAlchemy but explicit."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.ingest_engine: Engine | None = None
        self._session: scoped_session[Session] | None = None

    def init_app(self, app: Flask) -> None:
        self.engine = make_engine(app.config["DATABASE_URL"])
        # Webhook ingest is the hottest path: its single idempotent INSERT retries once on a dropped
        # connection instead of paying a pre-ping round trip on every checkout. No I/O until used.
        self.ingest_engine = make_engine(app.config["DATABASE_URL"], pool_pre_ping=False)
        self._session = scoped_session(sessionmaker(bind=self.engine, expire_on_commit=False))
        app.extensions["cashline_db"] = self

        @app.teardown_appcontext
        def _remove_session(exc: BaseException | None) -> None:
            if self._session is not None:
                if exc is not None:
                    self._session.rollback()
                self._session.remove()

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("database not initialised: call create_app() first")
        return self._session()

    def has_session(self) -> bool:
        """Whether this thread opened a session (views like webhook ingest never do)."""
        return self._session is not None and self._session.registry.has()

    def remove_session(self) -> None:
        """Close this thread's session (end of a request, job or test)."""
        if self._session is not None:
            self._session.remove()

    def dispose(self) -> None:
        if self._session is not None:
            self._session.remove()
        for engine in (self.engine, self.ingest_engine):
            if engine is not None:
                engine.dispose()


def get_db() -> Database:
    db: Database = current_app.extensions["cashline_db"]
    return db


def get_redis() -> Redis:
    redis: Redis = current_app.extensions["cashline_redis"]
    return redis


def init_redis(app: Flask) -> None:
    # Redis() connects lazily, so this does no I/O at startup.
    app.extensions["cashline_redis"] = Redis.from_url(app.config["REDIS_URL"], socket_timeout=5,
                                                      socket_connect_timeout=2)


def get_for_tenant(session: Session, model: type[M], object_id: int, tenant_id: int) -> M | None:
    """Fetch a tenant-owned row only if it belongs to ``tenant_id`` (tenant isolation in one place)."""
    obj = session.get(model, object_id)
    if obj is None or getattr(obj, "tenant_id", None) != tenant_id:
        return None
    return obj
