"""Dunning jobs: one run per tenant, and the hourly fan-out the cron table enqueues."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from addon.extensions import get_redis
from addon.queueing import enqueue, enqueue_in
from addon.services import tenant_lock
from addon.services.dunning import DunningMailer, run_dunning
from connectors.errors import AuthError
from jobs.runtime import JobContext, connector_factory, job_context

logger = logging.getLogger(__name__)


def run_tenant(tenant_id: int) -> dict[str, Any]:
    """Send the reminders due now for one tenant (safe to retry: every send is claimed exactly once).

    Holds the tenant's sync lock (addon/services/tenant_lock.py) while it decides: reminders are planned, and
    each re-read and claimed, on the mirror, and a sync or webhook writing it at the same moment (a payment
    just arriving) must finish first. The lock is let go while a reminder is sent (run_dunning), so a slow
    mail server does not block the tenant's sync. A busy tenant defers the run (or its rest) instead of
    failing it."""
    with job_context(tenant_id) as ctx:
        wait = ctx.app.config["TENANT_LOCK_WAIT"]

        def locked() -> AbstractContextManager[tenant_lock.Lease]:
            return tenant_lock.hold(get_redis(), [tenant_id], wait=wait)

        try:
            summary = _run(ctx, tenant_id, locked)
        except tenant_lock.TenantBusy:
            _defer(tenant_id, ctx.app.config["TENANT_LOCK_RETRY"])
            return {"deferred": 1}
        if summary.pop("busy", 0):  # a sync took the tenant mid-run: the rest goes with the deferred run
            _defer(tenant_id, ctx.app.config["TENANT_LOCK_RETRY"])
            summary["deferred"] = 1
        return summary


def _run(ctx: JobContext, tenant_id: int, locked: Callable[[], AbstractContextManager[tenant_lock.Lease]]
         ) -> dict[str, Any]:
    tenant = ctx.connected_tenant(tenant_id)
    if tenant is None:
        return {"skipped": 1}
    try:
        connector = connector_factory(ctx)(tenant)
        return run_dunning(ctx.session, tenant, connector, datetime.now(UTC),
                           DunningMailer.from_config(ctx.app.config), actor=f"job:{ctx.job_id or 'dunning'}",
                           lock=locked)
    except AuthError as exc:
        # The sync job owns the "needs reconnect" state; dunning just stops for this tenant.
        logger.warning("dunning for tenant %s stopped: %s", tenant_id, exc)
        return {"auth_error": 1}


def _defer(tenant_id: int, delay: float) -> None:
    """Run again ``delay`` seconds from now as a fresh job (waiting for a sync is not a failure). The id carries
    the due second: ``dunning-<id>`` is held by this very job, so reusing it would be refused and the run lost."""
    due = int(time.time() + delay)
    enqueue_in(get_redis(), delay, "dunning", "jobs.dunning.run_tenant", tenant_id,
               job_id=f"dunning-{tenant_id}-at-{due}")
    logger.info("dunning of tenant %s deferred by %.0f s: tenant busy", tenant_id, delay)


def fan_out() -> dict[str, int]:
    """Enqueue ``run_tenant`` for every connected tenant (one job per tenant at a time)."""
    with job_context() as ctx:
        ids = ctx.connected_tenant_ids()
        queued = sum(1 for tenant_id in ids if enqueue(get_redis(), "dunning", "jobs.dunning.run_tenant", tenant_id,
                                                       job_id=f"dunning-{tenant_id}") is not None)
    return {"tenants": len(ids), "queued": queued}
