"""Webhook jobs: process one stored delivery; sweep deliveries that never got (or lost) their job."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from addon.extensions import get_redis
from addon.models import WebhookEvent, WebhookStatus
from addon.queueing import enqueue
from addon.services import webhooks
from jobs.runtime import connector_factory, job_context
from jobs.scoring import request_scoring

logger = logging.getLogger(__name__)


def process_event(event_id: int) -> dict[str, object]:
    """Apply one delivery. Failures are recorded on the event; after N attempts it is dead-lettered."""
    with job_context() as ctx:
        event = ctx.session.get(WebhookEvent, event_id)
        if event is None or event.status == WebhookStatus.PROCESSED.value:
            return {"skipped": True}
        event.attempts += 1
        attempts = event.attempts
        ctx.session.commit()  # count the attempt even if this worker dies mid-way
        try:
            totals, tenant_ids = webhooks.process_delivery(ctx.session, event, connector_factory(ctx),
                                                           now=datetime.now(UTC))
        except Exception as exc:  # noqa: BLE001 - any failure is recorded; poison events dead-letter
            ctx.session.rollback()
            _record_failure(ctx, event_id, attempts, exc)
            return {"failed": True, "attempts": attempts}
        event.status = WebhookStatus.PROCESSED.value
        event.processed_at = datetime.now(UTC)
        event.error = None
    for tenant_id in tenant_ids:  # after commit: scores follow the ledger change
        request_scoring(tenant_id)
    return {"processed": True, **totals}


def _record_failure(ctx, event_id: int, attempts: int, exc: Exception) -> None:  # type: ignore[no-untyped-def]
    event = ctx.session.get(WebhookEvent, event_id)
    limit = ctx.app.config["WEBHOOK_MAX_ATTEMPTS"]
    event.status = (WebhookStatus.DEAD if attempts >= limit else WebhookStatus.FAILED).value
    event.error = f"{type(exc).__name__}: {exc}"[:2000]
    logger.warning("webhook event %s failed (attempt %d/%d): %s", event_id, attempts, limit, event.error)


def sweep_unqueued() -> dict[str, int]:
    """Enqueue stored deliveries without a live job (Redis was down, failed, or stuck)."""
    with job_context() as ctx:
        events = webhooks.events_to_enqueue(ctx.session, now=datetime.now(UTC))
        redis = get_redis()
        for event in events:
            enqueue(redis, "sync", "jobs.webhooks.process_event", event.id,
                    job_id=f"webhook-{event.id}-{event.attempts}")
            event.status = WebhookStatus.QUEUED.value
            event.queued_at = datetime.now(UTC)
    return {"enqueued": len(events)}
