"""HTTP blueprints (and the webhook ingest layer). Each module owns one concern; they are registered here."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

# Row ids are at most a signed 64-bit integer: a longer number in a URL is a page that cannot exist (404),
# not a value for the database driver to choke on (500).
MAX_ROW_ID = 2**63 - 1


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in every route: a non-negative integer that fits a database id column."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(url_map, *args, **kwargs)


def register_blueprints(app: Flask) -> None:
    from addon.web import auth, collections, dashboard, dunning, health, reconciliation, webhooks

    app.url_map.converters["int"] = RowIdConverter  # before any route is added
    app.register_blueprint(health.bp)
    webhooks.install(app)  # a WSGI layer, not a blueprint: see addon/web/webhooks.py
    app.register_blueprint(auth.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(collections.bp)
    app.register_blueprint(reconciliation.bp)
    app.register_blueprint(dunning.bp)
    _configure_tenant_nav(app)
    from addon.web.errors import register_error_pages

    register_error_pages(app)
    from addon.web.formatting import amount

    app.add_template_filter(amount, "amount")


# Pages shown in the tenant navigation, when the capability that serves them is installed.
TENANT_NAV = (("dashboard.page", "Dashboard"), ("dashboard.worklist_page", "Worklist"),
              ("dashboard.invoices_page", "Risk scores"),
              ("dunning.settings", "Dunning"), ("reconciliation.queue", "Reconciliation"))


def _configure_tenant_nav(app: Flask) -> None:
    @app.context_processor
    def _nav() -> dict[str, object]:
        return {"tenant_nav": [(e, label) for e, label in TENANT_NAV if e in app.view_functions]}
