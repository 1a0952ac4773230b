"""model_versions: at most one active pooled model (partial unique index), after repairing a registry that
has several

Revision ID: 0020_one_active_pooled_model
Revises: 0019_dunning_holds
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = '0020_one_active_pooled_model'
down_revision = '0019_dunning_holds'
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")

INDEX = 'uq_model_versions_one_active_pooled'
# The pooled rows have no tenant, and NULLs are distinct in a unique index (0013's index on tenant_id leaves
# them alone): this one indexes the active flag of the active pooled rows, all true, so a second is refused.
WHERE = 'active AND tenant_id IS NULL'


def upgrade() -> None:
    _keep_only_the_newest_active_pooled_model()
    op.create_index(INDEX, 'model_versions', ['active'], unique=True,
                    postgresql_where=sa.text(WHERE), sqlite_where=sa.text(WHERE))


def downgrade() -> None:
    op.drop_index(INDEX, table_name='model_versions')


def _keep_only_the_newest_active_pooled_model() -> None:
    """Several active pooled versions (registered by hand, before this index): the newest by id, the one
    scoring already used, stays active; the others are deactivated (kept, so they can be activated again)
    and each is logged as a warning."""
    conn = op.get_bind()
    versions = sa.table('model_versions', sa.column('id', sa.Integer), sa.column('tenant_id', sa.Integer),
                        sa.column('version', sa.String), sa.column('active', sa.Boolean))
    rows = conn.execute(sa.select(versions.c.id, versions.c.version)
                        .where(versions.c.active.is_(True), versions.c.tenant_id.is_(None))
                        .order_by(versions.c.id.desc())).all()
    for row_id, version in rows[1:]:
        conn.execute(sa.update(versions).where(versions.c.id == row_id).values(active=False))
        logger.warning("several active pooled models: deactivated %s, kept %s", version, rows[0].version)
