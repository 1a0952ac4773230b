"""webhooks: deferred deliveries (rate limited, tenant busy) remember when they may run again

Revision ID: 0008_webhook_not_before
Revises: 0007_model_attempt
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import addon.models.base

revision = '0008_webhook_not_before'
down_revision = '0007_model_attempt'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('not_before', addon.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_column('not_before')
