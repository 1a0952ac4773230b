"""Dunning jobs: one run per tenant, and the hourly fan-out the cron table enqueues."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from addon.extensions import get_redis
from addon.queueing import enqueue
from addon.services.dunning import DunningMailer, run_dunning
from connectors.errors import AuthError
from jobs.runtime import connector_factory, job_context

logger = logging.getLogger(__name__)


def run_tenant(tenant_id: int) -> dict[str, Any]:
    """Send the reminders due now for one tenant (safe to retry: every send is claimed exactly once)."""
    with job_context(tenant_id) as ctx:
        tenant = ctx.connected_tenant(tenant_id)
        if tenant is None:
            return {"skipped": 1}
        try:
            connector = connector_factory(ctx)(tenant)
            return run_dunning(ctx.session, tenant, connector, datetime.now(UTC),
                               DunningMailer.from_config(ctx.app.config), actor=f"job:{ctx.job_id or 'dunning'}")
        except AuthError as exc:
            # The sync job owns the "needs reconnect" state; dunning just stops for this tenant.
            logger.warning("dunning for tenant %s stopped: %s", tenant_id, exc)
            return {"auth_error": 1}


def fan_out() -> dict[str, int]:
    """Enqueue ``run_tenant`` for every connected tenant (one job per tenant at a time)."""
    with job_context() as ctx:
        ids = ctx.connected_tenant_ids()
        queued = sum(1 for tenant_id in ids if enqueue(get_redis(), "dunning", "jobs.dunning.run_tenant", tenant_id,
                                                       job_id=f"dunning-{tenant_id}") is not None)
    return {"tenants": len(ids), "queued": queued}
