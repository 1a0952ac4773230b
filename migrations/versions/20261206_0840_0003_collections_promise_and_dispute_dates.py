"""collections: when a promise to pay and a dispute were recorded

Revision ID: 0003_collections
Revises: 0002_dunning
Create Date: 2026-12-06 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003_collections'
down_revision = '0002_dunning'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disputed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('dispute_resolved_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('promise_recorded_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('promise_recorded_on')
        batch_op.drop_column('dispute_resolved_on')
        batch_op.drop_column('disputed_on')
