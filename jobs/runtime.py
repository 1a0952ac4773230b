"""What every job runs inside: an app context, one transaction, and a job-aware logger.

The worker process creates the app once (``cashline worker``); a job called directly (tests, the
demo's synchronous mode) creates one on demand.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask, current_app, has_app_context
from rq import get_current_job
from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.extensions import get_db
from addon.logging import log_context
from addon.models import Tenant, TenantStatus
from addon.services import grants
from connectors.errors import ScopeError

logger = logging.getLogger(__name__)

_app: Flask | None = None


def set_app(app: Flask) -> None:
    """Used by the worker (and tests) to share one app instead of building one per job."""
    global _app
    _app = app


def _get_app() -> Flask:
    global _app
    if _app is not None:  # the worker's (or a test's) app wins over whatever context is pushed
        return _app
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]
    if _app is None:
        from addon import create_app

        _app = create_app()
    return _app


@dataclass
class JobContext:
    app: Flask
    session: Session
    job_id: str | None

    def connected_tenant(self, tenant_id: int) -> Tenant | None:
        """The tenant, or None when it is gone or not connected (its jobs stop until a reconnect)."""
        tenant = self.session.get(Tenant, tenant_id)
        return tenant if tenant is not None and tenant.status is TenantStatus.CONNECTED else None

    def mark_needs_reauth(self, tenant_id: int, cause: Exception) -> None:
        """The platform refused the tenant's tokens (revoked on its side, or expired): drop this job's
        uncommitted work, stop the tenant's jobs and show the reconnect banner (committed at once). A
        required call refused for a missing scope keeps its reason, naming the scope, for the banner."""
        self.session.rollback()
        tenant = self.session.get_one(Tenant, tenant_id)
        tenant.status = TenantStatus.NEEDS_REAUTH
        if isinstance(cause, ScopeError):
            grants.note_reauth_reason(tenant, str(cause))
        self.session.commit()
        logger.warning("tenant %s needs to reconnect: %s", tenant_id, cause)

    def connected_tenant_ids(self) -> list[int]:
        """Every connected tenant, for the periodic fan-out jobs."""
        return list(self.session.scalars(select(Tenant.id).where(Tenant.status == TenantStatus.CONNECTED)
                                         .order_by(Tenant.id)))


@contextmanager
def job_context(tenant_id: int | None = None) -> Iterator[JobContext]:
    """Commit when the block succeeds, roll back when it raises; logs carry job and tenant ids."""
    app = _get_app()
    job = get_current_job()
    job_id = job.id if job else None
    with app.app_context(), log_context(job_id=job_id, tenant_id=tenant_id):
        session = get_db().session
        try:
            yield JobContext(app=app, session=session, job_id=job_id)
            session.commit()
        except Exception:
            session.rollback()
            raise


def connector_factory(ctx: JobContext):  # type: ignore[no-untyped-def]
    """Return ``connector_for(tenant)`` bound to this job's app (tokens, limiter, config)."""
    from addon.extensions import get_redis
    from addon.services.connections import connector_for

    engine = get_db().engine
    assert engine is not None

    def _for(tenant):  # type: ignore[no-untyped-def]
        return connector_for(tenant, engine=engine, redis=get_redis(), config=ctx.app.config)

    return _for
