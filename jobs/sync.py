"""Sync jobs: backfill on install, incremental per tenant, and the periodic sweep fan-out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from redis.exceptions import RedisError
from sqlalchemy import select

from addon.extensions import get_redis
from addon.models import Tenant, TenantStatus
from addon.queueing import enqueue, enqueue_in
from addon.services import provision_cache, sync, tenant_lock
from connectors.errors import AuthError, RateLimitedError
from jobs.runtime import connector_factory, job_context
from jobs.scoring import request_scoring

logger = logging.getLogger(__name__)


def _run_sync(tenant_id: int, run: Callable[..., sync.SyncResult], *, full: bool) -> dict[str, int]:
    """Run one sync for a connected tenant, holding the tenant's lock; a refusal by the platform marks it
    ``needs_reauth``. A busy tenant or a rate limit defers the job (see ``_defer``) instead of failing it."""
    kind = "backfill" if full else "sync"
    with job_context(tenant_id) as ctx:
        try:
            with tenant_lock.hold(get_redis(), [tenant_id], wait=ctx.app.config["TENANT_LOCK_WAIT"]) as lease:
                result = _sync_locked(ctx, tenant_id, run, full=full)
                if isinstance(result, dict):
                    return result
                lease.check()
                ctx.session.commit()  # while the lock is held: the next holder must see these rows
                if full:  # after commit: the dashboard's write-off rates are measured on the whole history
                    _forget_provision(tenant_id)
        except tenant_lock.TenantBusy:
            _defer(kind, tenant_id, ctx.app.config["TENANT_LOCK_RETRY"], "tenant busy")
            return {"deferred": 1}
        except RateLimitedError as exc:
            ctx.session.rollback()
            _defer(kind, tenant_id, exc.retry_after, f"rate limited ({exc.problem or exc})")
            return {"deferred": 1}
    if full or result.invoices or result.payments or result.credit_notes:
        request_scoring(tenant_id)  # after commit: score what was just mirrored
    return result.as_dict()


def _forget_provision(tenant_id: int) -> None:
    """Make the tenant's cached provision matrix stale. A failure is logged, not raised: the backfill is
    committed, and at worst the dashboard keeps today's rates until the tenant's next day."""
    try:
        provision_cache.invalidate(get_redis(), tenant_id)
    except RedisError:
        logger.warning("tenant %s: cached write-off rates not invalidated after the backfill", tenant_id,
                       exc_info=True)


def _sync_locked(ctx, tenant_id: int, run: Callable[..., sync.SyncResult],  # type: ignore[no-untyped-def]
                 *, full: bool) -> sync.SyncResult | dict[str, int]:
    """The sync itself (the caller holds the lock): its result, or a status when there was nothing to do."""
    tenant = ctx.connected_tenant(tenant_id)
    if tenant is None:
        return {"skipped": 1}
    try:
        result = run(ctx.session, tenant, connector_factory(ctx)(tenant), now=datetime.now(UTC))
    except AuthError as exc:
        ctx.mark_needs_reauth(tenant.id, exc)
        return {"needs_reauth": 1}
    if full:
        tenant.settings = {**tenant.settings, "last_full_sweep": datetime.now(UTC).isoformat()}
    return result


def _defer(kind: str, tenant_id: int, delay: float, why: str) -> None:
    """Queue this sync again ``delay`` seconds from now, as a fresh job: being second in line, or hitting the
    platform's (e.g. Xero's daily) limit, is not a failure and must not use up RQ's three retries.

    The job id carries the due second: the running job holds ``sync-<id>`` (or its own deferred id), so
    reusing it would be refused as a duplicate and the work lost."""
    due = int(time.time() + delay)
    enqueue_in(get_redis(), delay, "sync", f"jobs.sync.{_JOBS[kind]}", tenant_id, job_id=f"{kind}-{tenant_id}-at-{due}")
    logger.info("%s of tenant %s deferred by %.0f s: %s", kind, tenant_id, delay, why)


_JOBS = {"sync": "sync_tenant", "backfill": "backfill_tenant"}


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
