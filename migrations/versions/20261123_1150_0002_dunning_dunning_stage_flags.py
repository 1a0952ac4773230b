"""dunning stage flags

Revision ID: 0002_dunning
Revises: 0001
Create Date: 2026-11-23 11:50:08.432260
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002_dunning'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dunning_stages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('show_statutory', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('skip_for_reliable', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('dunning_stages', schema=None) as batch_op:
        batch_op.drop_column('skip_for_reliable')
        batch_op.drop_column('show_statutory')

