"""Webhook receivers: verify the signature on the raw body, store, request dispatch, acknowledge.

``POST /webhooks/<platform>`` is the hottest path in the app (a platform can deliver thousands of
events a minute), so it is served by a small WSGI layer in front of Flask instead of a Flask view:
Flask's per-request machinery (contexts, routing, CSRF and commit hooks, response objects) cost
more CPU than the work itself — about 0.35 ms of 0.8 ms per delivery. Everything else is delegated to
Flask unchanged.

Answers fast and with no body (Xero's intent-to-receive requires exactly that: 200 when correctly
signed, 401 when not). Processing happens in jobs queued by the dispatcher (jobs/webhooks.py); if
Redis is down the event is already in the database and the sweeper queues it later. If the database
is down the answer is 500 and the platform retries the delivery.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from addon.services.webhooks import SIGNATURE_HEADERS, WebhookRejected, store_delivery, verify_and_parse
from jobs.webhooks import request_dispatch

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask

logger = logging.getLogger(__name__)

KEY_SETTINGS = {"xero": "XERO_WEBHOOK_KEY", "qbo": "QBO_WEBHOOK_VERIFIER_TOKEN", "fake": "FAKE_WEBHOOK_KEY"}
PATH = re.compile(r"^/webhooks/(xero|qbo|fake)$")
MAX_BODY = 1024 * 1024  # platform notifications are a few KB; anything near this is not one
# WSGI environ keys of the signature headers (HTTP_ + upper case, dashes as underscores).
_SIGNATURE_ENVIRON = {p: "HTTP_" + h.upper().replace("-", "_") for p, h in SIGNATURE_HEADERS.items()}
_REASONS = {200: "200 OK", 400: "400 Bad Request", 401: "401 Unauthorized", 405: "405 Method Not Allowed",
            413: "413 Payload Too Large", 500: "500 Internal Server Error"}


class WebhookIngest:
    """WSGI middleware answering ``POST /webhooks/<platform>``; every other request goes to ``inner``.

    Settings, the database and Redis are looked up on each delivery (not captured at start-up), so
    configuration changes and a replaced Redis handle take effect like they do for Flask views.
    """

    def __init__(self, app: Flask, inner: WSGIApplication) -> None:
        self.app = app
        self.inner = inner

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        match = PATH.match(environ.get("PATH_INFO", ""))
        if match is None or not self._enabled(match[1]):
            return self.inner(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            status = 405
        else:
            status = self._receive(match[1], environ)
        headers = [("Content-Length", "0")] + ([("Allow", "POST")] if status == 405 else [])
        start_response(_REASONS[status], headers)
        return []

    def _enabled(self, platform: str) -> bool:
        return platform != "fake" or bool(self.app.config.get("FAKE_WEBHOOK_KEY"))

    def _receive(self, platform: str, environ: WSGIEnvironment) -> int:
        try:
            raw = get_input_stream(environ, max_content_length=MAX_BODY).read()  # the exact bytes signed
            changes = verify_and_parse(platform, raw, environ.get(_SIGNATURE_ENVIRON[platform]),
                                       self.app.config.get(KEY_SETTINGS[platform], ""))
        except RequestEntityTooLarge:
            logger.warning("webhook rejected for %s: body over %d bytes", platform, MAX_BODY)
            return 413
        except WebhookRejected as exc:
            logger.warning("webhook rejected for %s: %s", platform, exc)
            return exc.status
        if not changes:
            return 200  # Xero intent-to-receive, or an empty batch: nothing to store
        try:
            # Durable (its own autocommitted statement) before anything else: no acknowledged delivery is lost.
            stored = store_delivery(self.app.extensions["cashline_db"].ingest_engine, platform, raw,
                                    now=datetime.now(UTC))
        except Exception:
            logger.exception("webhook for %s could not be stored; answering 500 so the platform retries", platform)
            return 500
        if stored is not None:
            self._request_dispatch()
        return 200

    def _request_dispatch(self) -> None:
        redis: Any = self.app.extensions["cashline_redis"]
        try:
            request_dispatch(redis)
        except Exception as exc:  # noqa: BLE001 - Redis down must not lose or reject the delivery
            logger.warning("could not request webhook dispatch (%s); the sweeper will queue it", exc)


def install(app: Flask) -> None:
    """Put the ingest layer in front of the app's WSGI callable (test clients and servers alike)."""
    app.wsgi_app = WebhookIngest(app, app.wsgi_app)  # type: ignore[method-assign]
