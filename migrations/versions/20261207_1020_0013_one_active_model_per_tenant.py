"""model_versions: at most one active model per tenant (partial unique index), after repairing tenants
that have several

Revision ID: 0013_one_active_model
Revises: 0012_cancel_disconnected_retries
Create Date: 2026-12-07 10:20:00
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = '0013_one_active_model'
down_revision = '0012_cancel_disconnected_retries'
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")

INDEX = 'uq_model_versions_one_active_per_tenant'


def upgrade() -> None:
    _keep_only_the_newest_active_model()
    op.create_index(INDEX, 'model_versions', ['tenant_id'], unique=True,
                    postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))


def downgrade() -> None:
    op.drop_index(INDEX, table_name='model_versions')


def _keep_only_the_newest_active_model() -> None:
    """A tenant with several active versions (activations that raced before this index) keeps the newest by
    id, the one scoring already used; the others are deactivated (kept, so they can be re-activated by hand).
    Pooled rows (no tenant) are not touched: the index does not constrain them."""
    conn = op.get_bind()
    versions = sa.table('model_versions', sa.column('id', sa.Integer), sa.column('tenant_id', sa.Integer),
                        sa.column('version', sa.String), sa.column('active', sa.Boolean))
    rows = conn.execute(sa.select(versions.c.id, versions.c.tenant_id, versions.c.version)
                        .where(versions.c.active.is_(True), versions.c.tenant_id.is_not(None))
                        .order_by(versions.c.tenant_id, versions.c.id.desc())).all()
    kept: dict[int, str] = {}
    for row_id, tenant_id, version in rows:
        if tenant_id not in kept:
            kept[tenant_id] = version
            continue
        conn.execute(sa.update(versions).where(versions.c.id == row_id).values(active=False))
        logger.warning("tenant %s had several active models: deactivated %s, kept %s", tenant_id, version,
                       kept[tenant_id])
