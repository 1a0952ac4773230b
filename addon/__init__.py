"""Cashline Flask application: ``create_app`` builds everything from configuration.

Nothing connects to the database or Redis here (no queries at startup); handles are created lazily
and the readiness probe (/readyz) is what checks them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from addon.config import load_config
from addon.extensions import Database, init_redis
from addon.logging import configure_logging


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides environment settings (tests pass DATABASE_URL etc.)."""
    app = Flask(__name__, instance_relative_config=True)
    instance = Path(app.instance_path)
    app.config.update(load_config(os.environ, instance, config))
    configure_logging(app.config["LOG_LEVEL"])
    _configure_extensions(app)
    _configure_blueprints(app)
    _configure_request_commit(app)
    return app


def _configure_extensions(app: Flask) -> None:
    from flask_wtf.csrf import CSRFProtect

    Database().init_app(app)
    init_redis(app)
    csrf = CSRFProtect(app)
    app.extensions["cashline_csrf"] = csrf


def _configure_blueprints(app: Flask) -> None:
    from addon.web import register_blueprints

    register_blueprints(app)  # webhooks bypass Flask (and so CSRF): their HMAC signature is the check


def _configure_request_commit(app: Flask) -> None:
    # One commit per request, after the view succeeded (services only flush).
    @app.after_request
    def _commit(response):  # type: ignore[no-untyped-def]
        db: Database = app.extensions["cashline_db"]
        if not db.has_session():
            return response
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        return response
