"""HTTP blueprints (and the webhook ingest layer). Each module owns one concern; they are registered here."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from addon.web import auth, collections, dashboard, dunning, health, reconciliation, webhooks

    app.register_blueprint(health.bp)
    webhooks.install(app)  # a WSGI layer, not a blueprint: see addon/web/webhooks.py
    app.register_blueprint(auth.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(collections.bp)
    app.register_blueprint(reconciliation.bp)
    app.register_blueprint(dunning.bp)
    _configure_tenant_nav(app)


# Pages shown in the tenant navigation, when the capability that serves them is installed.
TENANT_NAV = (("dashboard.page", "Dashboard"), ("dashboard.worklist_page", "Worklist"),
              ("dashboard.invoices_page", "Risk scores"),
              ("dunning.settings", "Dunning"), ("reconciliation.queue", "Reconciliation"))


def _configure_tenant_nav(app: Flask) -> None:
    @app.context_processor
    def _nav() -> dict[str, object]:
        return {"tenant_nav": [(e, label) for e, label in TENANT_NAV if e in app.view_functions]}
