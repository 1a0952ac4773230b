"""Scoring jobs: score a tenant (after syncs and webhooks, coalesced per tenant) and the nightly run."""

from __future__ import annotations

from addon.extensions import get_redis
from addon.queueing import enqueue
from addon.services import scoring
from addon.services.dunning_policies import tenant_today
from addon.services.scoring_gate import GateTolerances
from addon.services.scoring_prior import prior_factory
from connectors.errors import AuthError
from jobs.runtime import connector_factory, job_context


def score_tenant(tenant_id: int) -> dict[str, object]:
    """Score every open invoice of the tenant and write changed bands back to the ERP."""
    with job_context(tenant_id) as ctx:
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
