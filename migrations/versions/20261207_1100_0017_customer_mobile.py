"""customers keep a mobile number (E.164) for dunning's SMS stages

Revision ID: 0017_customer_mobile
Revises: 0016_part_refusals
Create Date: 2026-12-07 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017_customer_mobile'
down_revision = '0016_part_refusals'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: filled in by the next full sync; until then SMS stages send email, as before.
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mobile', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('mobile')
