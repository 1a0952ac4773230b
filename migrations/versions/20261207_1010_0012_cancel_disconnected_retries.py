"""retry rows of tenants that disconnected before the disconnect cancelled them become cancelled (audited)

Migration 0006 brought ``retry`` rows (a reminder the mail server deferred); only later did disconnecting a
tenant cancel them (addon.services.dunning_retries.cancel_all_retries). A tenant that disconnected in
between kept its rows as ``retry``: nothing sends them while it is disconnected, and a reconnect months
later would take them over and send a stale reminder. They are cancelled here exactly as the disconnect
does it now: status ``cancelled``, no ``retry_at``, the reason in front of the last deferral in ``error``,
attempts kept, and a ``reminder.retry_cancelled`` audit record. Tenants that need re-authorising are not
disconnected (their runs resume and the run's own clean-up decides), so their rows are left alone.

Revision ID: 0012_cancel_disconnected_retries
Revises: 0011_tenant_country
Create Date: 2026-12-07 10:10:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import addon.models.base

revision = '0012_cancel_disconnected_retries'
down_revision = '0011_tenant_country'
branch_labels = None
depends_on = None

REASON = "the tenant disconnected"
ACTOR = "migration:0012_cancel_disconnected_retries"

_tenants = sa.table('tenants', sa.column('id', sa.Integer), sa.column('status', sa.String))
_actions = sa.table('dunning_actions', sa.column('id', sa.Integer), sa.column('tenant_id', sa.Integer),
                    sa.column('exactly_once_key', sa.String), sa.column('stage_key', sa.String),
                    sa.column('status', sa.String), sa.column('error', sa.Text),
                    sa.column('attempts', sa.Integer),
                    sa.column('retry_at', addon.models.base.UTCDateTime(timezone=True)),
                    sa.column('updated_at', addon.models.base.UTCDateTime(timezone=True)))
_audit = sa.table('audit_log', sa.column('tenant_id', sa.Integer),
                  sa.column('at', addon.models.base.UTCDateTime(timezone=True)), sa.column('actor', sa.String),
                  sa.column('action', sa.String), sa.column('object_type', sa.String),
                  sa.column('object_id', sa.String), sa.column('before', sa.JSON), sa.column('after', sa.JSON),
                  sa.column('reason', sa.Text))


def upgrade() -> None:
    bind = op.get_bind()
    stranded = bind.execute(
        sa.select(_actions.c.id, _actions.c.tenant_id, _actions.c.exactly_once_key, _actions.c.stage_key,
                  _actions.c.error, _actions.c.attempts, _actions.c.retry_at)
        .select_from(_actions.join(_tenants, _tenants.c.id == _actions.c.tenant_id))
        .where(_actions.c.status == 'retry', _tenants.c.status == 'disconnected')
        .order_by(_actions.c.id)).all()
    now = datetime.now(UTC)
    for row in stranded:
        error = f"cancelled: {REASON}" + (f" (last deferral: {row.error})" if row.error else "")
        bind.execute(sa.update(_actions).where(_actions.c.id == row.id, _actions.c.status == 'retry')
                     .values(status='cancelled', retry_at=None, error=error, updated_at=now))
        bind.execute(sa.insert(_audit).values(
            tenant_id=row.tenant_id, at=now, actor=ACTOR, action='reminder.retry_cancelled', object_type='invoice',
            object_id=row.exactly_once_key.rpartition(':')[0][:64],
            before={"status": "retry", "attempts": row.attempts, "error": row.error,
                    "retry_at": row.retry_at.isoformat() if row.retry_at else None},
            after={"status": "cancelled", "stage": row.stage_key, "attempts": row.attempts}, reason=REASON))


def downgrade() -> None:
    # Nothing to undo: making the rows 'retry' again would only bring back reminders that must not be sent.
    # The audit records say which rows this changed.
    pass
