"""Liveness (/healthz: the process answers) and readiness (/readyz: DB, Redis, migrations at head)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import text

from addon import migrate
from addon.extensions import get_db, get_redis

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Any:
    checks = {"database": _check_database(), "redis": _check_redis(), "migrations": _check_migrations()}
    ready = all(c["ok"] for c in checks.values())
    return jsonify(status="ready" if ready else "not_ready", checks=checks), 200 if ready else 503


def _check_database() -> dict[str, Any]:
    try:
        get_db().session.execute(text("SELECT 1"))
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001 - a probe reports any failure instead of raising
        return {"ok": False, "error": type(exc).__name__}


def _check_redis() -> dict[str, Any]:
    try:
        get_redis().ping()
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}


def _check_migrations() -> dict[str, Any]:
    try:
        engine = get_db().engine
        assert engine is not None
        current = sorted(migrate.current_revisions(engine))
        head = sorted(migrate.heads(str(engine.url)))
        return {"ok": current == head, "current": current, "head": head}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}
