"""Scoring jobs: score a tenant (after syncs and webhooks, coalesced per tenant) and the nightly run."""

from __future__ import annotations

import logging
import time

from addon.extensions import get_redis
from addon.queueing import enqueue, enqueue_in
from addon.services import scoring, tenant_lock
from addon.services.dunning_policies import tenant_today
from addon.services.scoring_gate import GateTolerances
from addon.services.scoring_prior import prior_factory
from connectors.errors import AuthError
from jobs.runtime import JobContext, connector_factory, job_context

logger = logging.getLogger(__name__)


def score_tenant(tenant_id: int) -> dict[str, object]:
    """Score every open invoice of the tenant and write changed bands back to the ERP.

    Holds the tenant's model lock up to the commit: a stale model is retrained (and may become the active
    one) inside, so a `cashline model train-tenant` / `activate-tenant` of the same tenant must wait. The
    mirror lock is not taken: syncs go on while a retrain runs. A tenant whose model lock is held defers
    the job instead of failing it."""
    with job_context(tenant_id) as ctx:
        try:
            with tenant_lock.hold(get_redis(), [tenant_id], wait=ctx.app.config["TENANT_LOCK_WAIT"],
                                  kind=tenant_lock.MODEL) as lease:
                result = _score_locked(ctx, tenant_id)
                lease.check()
                ctx.session.commit()  # while the lock is held: the next holder must see the active model
                return result
        except tenant_lock.TenantBusy:
            _defer(tenant_id, ctx.app.config["TENANT_LOCK_RETRY"])
            return {"deferred": True}


def _score_locked(ctx: JobContext, tenant_id: int) -> dict[str, object]:
    tenant = ctx.connected_tenant(tenant_id)
    if tenant is None:
        return {"skipped": True}
    try:
        connector = connector_factory(ctx)(tenant)
    except AuthError:
        connector = None  # still score; write-back waits for a reconnect
    # The tenant's calendar day, not the worker's: an invoice due today must not count as a day
    # overdue (P(late) = 1, band high) because the server's clock already reads tomorrow.
    summary = scoring.score_tenant(ctx.session, tenant, today=tenant_today(ctx.session, tenant),
                                   connector=connector,
                                   prior_factory=prior_factory(ctx.app.config),
                                   tolerances=GateTolerances.from_config(ctx.app.config))
    return summary.as_dict()


def _defer(tenant_id: int, delay: float) -> None:
    """Queue this scoring run again ``delay`` seconds from now, as a fresh job (being second in line is not
    a failure and must not use up RQ's retries). The id carries the due second: the running job still
    holds ``score-<id>``, so reusing it would be refused as a duplicate and the run lost."""
    due = int(time.time() + delay)
    enqueue_in(get_redis(), delay, "scoring", "jobs.scoring.score_tenant", tenant_id,
               job_id=f"score-{tenant_id}-at-{due}")
    logger.info("scoring of tenant %s deferred by %.0f s: its model is being trained or activated", tenant_id,
                delay)


def nightly() -> dict[str, int]:
    """Fan out: re-score (and weekly retrain, inside ensure_model) every connected tenant."""
    with job_context() as ctx:
        ids = ctx.connected_tenant_ids()
    for tenant_id in ids:
        request_scoring(tenant_id)
    return {"tenants": len(ids)}


def request_scoring(tenant_id: int) -> None:
    """Enqueue a (coalesced) scoring run for the tenant."""
    enqueue(get_redis(), "scoring", "jobs.scoring.score_tenant", tenant_id, job_id=f"score-{tenant_id}")
