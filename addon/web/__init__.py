"""HTTP blueprints. Each module owns one concern; they are registered here."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from addon.web import health

    app.register_blueprint(health.bp)
