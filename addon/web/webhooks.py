"""Webhook receivers: verify the signature on the raw body, store, request dispatch, acknowledge.

Answers fast and with no body (Xero's intent-to-receive requires exactly that: 200 when correctly
signed, 401 when not). Processing happens in jobs queued by the dispatcher (jobs/webhooks.py); if
Redis is down the event is already in the database and the sweeper queues it later.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, request

from addon.extensions import get_db, get_redis
from addon.services.webhooks import SIGNATURE_HEADERS, WebhookRejected, store_delivery, verify_and_parse
from jobs.webhooks import request_dispatch

logger = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

KEY_SETTINGS = {"xero": "XERO_WEBHOOK_KEY", "qbo": "QBO_WEBHOOK_VERIFIER_TOKEN", "fake": "FAKE_WEBHOOK_KEY"}


@bp.post("/<platform>")
def receive(platform: str) -> Response:
    if platform not in KEY_SETTINGS or (platform == "fake" and not current_app.config.get("FAKE_WEBHOOK_KEY")):
        return Response(status=404)
    raw = request.get_data(cache=False)  # the exact bytes that were signed
    try:
        changes = verify_and_parse(platform, raw, request.headers.get(SIGNATURE_HEADERS[platform]),
                                   current_app.config.get(KEY_SETTINGS[platform], ""))
    except WebhookRejected as exc:
        logger.warning("webhook rejected for %s: %s", platform, exc)
        return Response(status=exc.status)
    if not changes:
        return Response(status=200)  # Xero intent-to-receive, or an empty batch: nothing to store
    engine = get_db().ingest_engine
    assert engine is not None
    # Durable (its own autocommitted statement) before anything else, so no acknowledged delivery is lost.
    if store_delivery(engine, platform, raw, now=datetime.now(UTC)) is not None:
        try:
            request_dispatch(get_redis())
        except Exception as exc:  # noqa: BLE001 - Redis down must not lose or reject the delivery
            logger.warning("could not request webhook dispatch (%s); the sweeper will queue it", exc)
    return Response(status=200)
