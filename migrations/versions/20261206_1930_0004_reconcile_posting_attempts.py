"""reconcile: remember that posting a match started (idempotency key and time)

Revision ID: 0004_posting_attempts
Revises: 0003_collections
Create Date: 2026-12-06 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import addon.models.base

revision = '0004_posting_attempts'
down_revision = '0003_collections'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempt_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('attempt_started_at', addon.models.base.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.drop_column('attempt_started_at')
        batch_op.drop_column('attempt_key')
