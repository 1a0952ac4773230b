"""tenants remember their last model training attempt and its outcome

Revision ID: 0007_model_attempt
Revises: 0006_dunning_retries
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007_model_attempt'
down_revision = '0006_dunning_retries'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('model_attempted_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('model_attempt', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('model_attempt')
        batch_op.drop_column('model_attempted_on')
