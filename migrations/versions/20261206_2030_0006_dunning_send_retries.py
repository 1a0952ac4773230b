"""dunning: a reminder the mail server deferred keeps its attempt count and when to retry

Revision ID: 0006_dunning_retries
Revises: 0005_line_reversals
Create Date: 2026-12-06 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import addon.models.base

revision = '0006_dunning_retries'
down_revision = '0005_line_reversals'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dunning_actions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('retry_at', addon.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('dunning_actions', schema=None) as batch_op:
        batch_op.drop_column('retry_at')
        batch_op.drop_column('attempts')
