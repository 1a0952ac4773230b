"""The app as a production WSGI server loads it (the Procfile's ``web`` process, one per worker)."""

from __future__ import annotations

import gc

from flask import Flask

from addon import create_app
from connectors.base import connector_class


def application() -> Flask:
    """Build the app, load what requests would otherwise import on first use, then move everything
    allocated so far out of the garbage collector's sight.

    The platform SDKs (xero-python, python-quickbooks) take about a second to import; left to the first
    webhook, that import stalled every request thread of the worker for half a second. The app's heap
    (Flask, SQLAlchemy, the SDKs, XGBoost, NumPy, ...) is a few hundred thousand objects that live as
    long as the process; every full collection walked them all, about 130 ms on these cores, which
    showed up as the webhook acknowledgement p99. ``gc.freeze`` keeps them out of collections
    (reference counting still frees anything that dies).
    """
    app = create_app()
    for platform in ("xero", "qbo"):
        connector_class(platform)  # imports the connector and its SDK now, not in a request
    gc.collect()
    gc.freeze()
    return app
