"""Webhook jobs: dispatch stored deliveries to per-event jobs, process one delivery, sweep the rest.

The receiver only stores a delivery and calls ``request_dispatch``: one Redis ``SET NX`` that enqueues
the dispatcher job when none is pending. Keeping RQ's enqueue (several round trips and a Lua script
per job) off the acknowledgement path is what lets ingest keep up with bursts; the dispatcher then
queues every stored delivery in one pipeline.

Why nothing is missed: the receiver commits its row *before* trying the flag, and the dispatcher
deletes the flag *before* reading rows. So either the flag was still set when the row committed (the
pending dispatcher has not read yet and will see it) or the receiver sets it anew and enqueues
another run. If Redis is unreachable, or the flag outlives a lost job, the flag expires and the
periodic sweeper queues whatever is still RECEIVED.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from redis import Redis

from addon.extensions import get_redis
from addon.models import WebhookEvent, WebhookStatus
from addon.queueing import enqueue, enqueue_batch
from addon.services import tenant_lock, webhooks
from connectors.errors import RateLimitedError
from jobs.runtime import connector_factory, job_context
from jobs.scoring import request_scoring

logger = logging.getLogger(__name__)

DISPATCH_FLAG = "cashline:webhooks:dispatch-requested"
DISPATCH_FLAG_TTL = 30  # seconds: bounds how long a lost dispatcher job can hold the flag


def request_dispatch(redis: Redis) -> None:
    """Make sure a dispatcher run will see every delivery committed so far (cheap; may raise on a
    Redis outage, which the caller logs: the sweeper covers it)."""
    if redis.set(DISPATCH_FLAG, 1, nx=True, ex=DISPATCH_FLAG_TTL):
        enqueue(redis, "sync", "jobs.webhooks.dispatch", job_id="webhooks-dispatch")


def dispatch() -> dict[str, int]:
    """Queue a processing job for every stored delivery that has none, in batches."""
    redis = get_redis()
    redis.delete(DISPATCH_FLAG)  # before reading: a delivery committed from now on requests a new run
    total = 0
    while True:
        queued = _enqueue_unqueued(received_only=True)
        total += queued
        if queued < webhooks.ENQUEUE_BATCH:
            return {"enqueued": total}


def process_event(event_id: int) -> dict[str, object]:
    """Apply one delivery, holding the locks of the tenants it names (see addon/services/tenant_lock.py).
    Failures are recorded on the event; after N attempts it is dead-lettered. A tenant busy with another
    sync, or a platform rate limit, defers the event instead: neither is the event's fault, so neither
    uses an attempt."""
    with job_context() as ctx:
        event = ctx.session.get(WebhookEvent, event_id)
        if event is None or event.status in (WebhookStatus.PROCESSED.value, WebhookStatus.DEAD.value):
            return {"skipped": True}
        limit = ctx.app.config["WEBHOOK_MAX_ATTEMPTS"]
        if event.attempts >= limit:
            # Every attempt so far ended without recording a failure: the worker died mid-job (killed, out
            # of memory, RQ's job timeout). Without this check such an event would be retried forever.
            event.status = WebhookStatus.DEAD.value
            event.error = f"worker stopped during each of {event.attempts} attempts (killed or timed out)"
            logger.warning("webhook event %s dead-lettered: %s", event_id, event.error)
            return {"dead": True, "attempts": event.attempts}
        try:
            with tenant_lock.hold(get_redis(), _tenant_ids(ctx, event), wait=ctx.app.config["TENANT_LOCK_WAIT"]
                                  ) as lease:
                outcome, tenant_ids = _attempt(ctx, event_id, lease)
        except tenant_lock.TenantBusy as busy:
            _defer(ctx, event_id, ctx.app.config["TENANT_LOCK_RETRY"], f"waiting: {busy}")
            return {"deferred": "tenant busy"}
    for tenant_id in tenant_ids:  # after commit: scores follow the ledger change
        request_scoring(tenant_id)
    return outcome


def _tenant_ids(ctx, event: WebhookEvent) -> list[int]:  # type: ignore[no-untyped-def]
    try:
        return webhooks.delivery_tenant_ids(ctx.session, event)
    except ValueError:  # unparseable: nothing to lock; the attempt fails and is recorded as usual
        return []


def _attempt(ctx, event_id: int, lease: tenant_lock.Lease  # type: ignore[no-untyped-def]
             ) -> tuple[dict[str, object], list[int]]:
    """One counted attempt at the delivery, with its tenants' locks held; committed before they are released."""
    event = ctx.session.get_one(WebhookEvent, event_id)
    event.attempts += 1
    attempts = event.attempts
    ctx.session.commit()  # count the attempt even if this worker dies mid-way
    try:
        totals, tenant_ids = _apply(ctx, event_id)
    except RateLimitedError as exc:
        ctx.session.rollback()
        ctx.session.get_one(WebhookEvent, event_id).attempts = attempts - 1  # the platform's limit, not ours
        _defer(ctx, event_id, exc.retry_after, f"{type(exc).__name__}: {exc}")
        return {"deferred": "rate limited"}, []
    except Exception as exc:  # noqa: BLE001 - any failure is recorded; poison events dead-letter
        ctx.session.rollback()
        _record_failure(ctx, event_id, attempts, exc)
        return {"failed": True, "attempts": attempts}, []
    event = ctx.session.get_one(WebhookEvent, event_id)
    event.status = WebhookStatus.PROCESSED.value
    event.processed_at = datetime.now(UTC)
    event.error = None
    lease.check()
    ctx.session.commit()  # while the locks are held: the next holder must see these rows
    return {"processed": True, **totals}, tenant_ids


def _defer(ctx, event_id: int, delay: float, why: str) -> None:  # type: ignore[no-untyped-def]
    """Park the event until ``delay`` seconds from now: the sweeper queues a DEFERRED event only once its
    ``not_before`` has passed, so a long Retry-After (Xero's daily limit) is waited out, not retried into
    the dead-letter list every minute."""
    event = ctx.session.get_one(WebhookEvent, event_id)
    event.status = WebhookStatus.DEFERRED.value
    event.not_before = datetime.now(UTC) + timedelta(seconds=delay)
    event.error = why[:2000]
    logger.info("webhook event %s deferred by %.0f s: %s", event_id, delay, event.error)


def _apply(ctx, event_id: int) -> tuple[dict[str, int], list[int]]:  # type: ignore[no-untyped-def]
    """Apply the delivery; a tenant whose tokens the platform refuses is marked ``needs_reauth`` (its
    reconnect backfills it) and the delivery is applied again without it, so that one disconnected realm
    does not fail, and finally dead-letter, the changes of every other realm in the same delivery."""
    while True:
        event = ctx.session.get_one(WebhookEvent, event_id)
        try:
            return webhooks.process_delivery(ctx.session, event, connector_factory(ctx), now=datetime.now(UTC))
        except webhooks.TenantRefused as refused:
            # The other tenants' work so far is rolled back with it, and redone on the next pass.
            ctx.mark_needs_reauth(refused.tenant_id, refused.cause)


def _record_failure(ctx, event_id: int, attempts: int, exc: Exception) -> None:  # type: ignore[no-untyped-def]
    event = ctx.session.get(WebhookEvent, event_id)
    limit = ctx.app.config["WEBHOOK_MAX_ATTEMPTS"]
    event.status = (WebhookStatus.DEAD if attempts >= limit else WebhookStatus.FAILED).value
    event.error = f"{type(exc).__name__}: {exc}"[:2000]
    logger.warning("webhook event %s failed (attempt %d/%d): %s", event_id, attempts, limit, event.error)


def sweep_unqueued() -> dict[str, int]:
    """Enqueue stored deliveries without a live job (never dispatched, failed, or stuck)."""
    return {"enqueued": _enqueue_unqueued(received_only=False)}


def _enqueue_unqueued(*, received_only: bool) -> int:
    with job_context() as ctx:
        now = datetime.now(UTC)
        events = webhooks.events_to_enqueue(ctx.session, now=now, received_only=received_only)
        enqueue_batch(get_redis(), "sync", "jobs.webhooks.process_event",
                      [((event.id,), f"webhook-{event.id}-{event.attempts}") for event in events])
        for event in events:  # committed by job_context; a crash before that re-queues (same job ids)
            event.status = WebhookStatus.QUEUED.value
            event.queued_at, event.not_before = now, None
        return len(events)
