"""Sync jobs: backfill on install, incremental per tenant, and the periodic sweep fan-out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select

from addon.extensions import get_redis
from addon.models import Tenant, TenantStatus
from addon.queueing import enqueue
from addon.services import sync
from connectors.errors import AuthError
from jobs.runtime import connector_factory, job_context
from jobs.scoring import request_scoring

logger = logging.getLogger(__name__)

def _mark_needs_reauth(ctx, tenant: Tenant, exc: AuthError) -> None:  # type: ignore[no-untyped-def]
    # The platform refused our tokens (revoked on its side, or expired): stop jobs, show the banner.
    ctx.session.rollback()
    tenant = ctx.session.get(Tenant, tenant.id)
    tenant.status = TenantStatus.NEEDS_REAUTH
    ctx.session.commit()
    logger.warning("tenant %s needs to reconnect: %s", tenant.id, exc)


def _run_sync(tenant_id: int, run: Callable[..., sync.SyncResult], *, full: bool) -> dict[str, int]:
    """Run one sync for a connected tenant; a refusal by the platform marks it ``needs_reauth``."""
    with job_context(tenant_id) as ctx:
        tenant = ctx.connected_tenant(tenant_id)
        if tenant is None:
            return {"skipped": 1}
        try:
            result = run(ctx.session, tenant, connector_factory(ctx)(tenant), now=datetime.now(UTC))
        except AuthError as exc:
            _mark_needs_reauth(ctx, tenant, exc)
            return {"needs_reauth": 1}
        if full:
            tenant.settings = {**tenant.settings, "last_full_sweep": datetime.now(UTC).isoformat()}
    if full or result.invoices or result.payments or result.credit_notes:
        request_scoring(tenant_id)  # after commit: score what was just mirrored
    return result.as_dict()


def backfill_tenant(tenant_id: int) -> dict[str, int]:
    """Copy the tenant's whole receivables ledger (on install, and as the periodic full sweep)."""
    return _run_sync(tenant_id, sync.backfill, full=True)


def sync_tenant(tenant_id: int) -> dict[str, int]:
    """Incremental sync since the last one (CDC on QBO, If-Modified-Since on Xero)."""
    return _run_sync(tenant_id, sync.sync_incremental, full=False)


def sweep_all() -> dict[str, int]:
    """Fan out: an incremental sync for every connected tenant, a full backfill once a day."""
    with job_context() as ctx:
        tenants = ctx.session.scalars(select(Tenant).where(Tenant.status == TenantStatus.CONNECTED)).all()
        now = datetime.now(UTC)
        full = 0
        for tenant in tenants:
            last_full = tenant.settings.get("last_full_sweep")
            if sync.full_sweep_due(datetime.fromisoformat(last_full) if last_full else None, now):
                request_backfill(tenant.id)
                full += 1
            else:
                enqueue(get_redis(), "sync", "jobs.sync.sync_tenant", tenant.id, job_id=f"sync-{tenant.id}")
    return {"tenants": len(tenants), "full": full}


def request_backfill(tenant_id: int) -> None:
    """Enqueue a full copy of the tenant's ledger (on install, and the daily sweep); one at a time."""
    enqueue(get_redis(), "sync", "jobs.sync.backfill_tenant", tenant_id, job_id=f"backfill-{tenant_id}")
