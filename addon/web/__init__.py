"""HTTP blueprints. Each module owns one concern; they are registered here."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from addon.web import auth, health, webhooks

    app.register_blueprint(health.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(auth.bp)
