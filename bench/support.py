"""What the database benchmarks share: a migrated database with an app on it, "best of N" timing, and
taking a bench tenant's rows out of a shared database again. (bench/ is not a package: each script puts the
repository root on sys.path and imports this as ``bench.support``.)"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import delete

from addon import create_app, migrate
from addon.models import Base, Tenant


def best_of(repeat: int, run: Callable[[], Any], before: Callable[[], Any] | None = None,
            after: Callable[[], Any] | None = None) -> tuple[float, Any]:
    """The shortest of ``repeat`` timed calls of ``run`` (``before``/``after`` run untimed around each: e.g.
    an emptied session, so every call starts like a new request), and the last call's result."""
    times, result = [], None
    for _ in range(repeat):
        if before is not None:
            before()
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
        if after is not None:
            after()
    return min(times), result


@contextmanager
def bench_app(database_url: str | None) -> Iterator[tuple[Flask, str]]:
    """The app on ``database_url`` migrated to head (default: a temporary SQLite file, removed afterwards),
    and the URL it runs on."""
    path = None
    url = database_url
    if url is None:
        fd, path = tempfile.mkstemp(suffix=".db", prefix="cashline-bench-")
        os.close(fd)
        url = f"sqlite:///{path}"
    app = None
    try:
        migrate.upgrade(url)
        app = create_app({"CASHLINE_ENV": "test", "TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench",
                          "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12"),
                          "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(), "LOG_LEVEL": "WARNING",
                          "PUBLIC_URL": "http://127.0.0.1:5000"})
        yield app, url
    finally:
        if app is not None:
            app.extensions["cashline_db"].engine.dispose()
        if path is not None:  # the file and SQLite's write-ahead log beside it
            for leftover in (path, f"{path}-wal", f"{path}-shm"):
                if os.path.exists(leftover):
                    os.unlink(leftover)


def drop_tenant(app: Flask, tenant_id: int, *extra: Any) -> None:
    """Take a bench tenant's rows (and the ``extra`` delete statements) out of a shared database again."""
    if not tenant_id:
        return
    with app.app_context():
        db = app.extensions["cashline_db"].session
        for table in reversed(Base.metadata.sorted_tables):
            if "tenant_id" in table.c:
                db.execute(delete(table).where(table.c.tenant_id == tenant_id))
        db.execute(delete(Tenant).where(Tenant.id == tenant_id))
        for statement in extra:
            db.execute(statement)
        db.commit()
