"""Reconcile job: match a freshly imported statement and post what the engine (or an admin) decided."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from redis import Redis

from addon.queueing import enqueue
from addon.services import reconciliation
from jobs.runtime import connector_factory, job_context

logger = logging.getLogger(__name__)


def reconcile_statement(tenant_id: int, statement_id: int) -> dict[str, Any]:
    """Match the statement's new lines and post auto/confirmed matches (idempotent: safe to retry)."""
    with job_context(tenant_id) as ctx:
        tenant = ctx.connected_tenant(tenant_id)
        if tenant is None:
            return {"skipped": 1}
        actor = f"job:{ctx.job_id}" if ctx.job_id else "job:reconcile"
        # Matches are committed before posting and each post right after it (checkpoint), so a retry
        # after a crash or a connector error reuses the same match ids as idempotency keys: the
        # platform replays what it already accepted instead of creating a second payment.
        return reconciliation.reconcile(ctx.session, tenant, connector_factory(ctx)(tenant), statement_id,
                                        datetime.now(UTC), actor=actor, checkpoint=ctx.session.commit)


def enqueue_reconcile(connection: Redis, tenant_id: int, statement_id: int) -> object:
    """Queue ``reconcile_statement`` once per statement (a duplicate request is a no-op)."""
    return enqueue(connection, "reconcile", "jobs.reconcile.reconcile_statement", tenant_id, statement_id,
                   job_id=f"reconcile-{tenant_id}-{statement_id}")
