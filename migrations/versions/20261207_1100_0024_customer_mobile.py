"""customers keep a mobile number (E.164) for dunning's SMS stages

Revision ID: 0024_customer_mobile
Revises: 0015_credit_applications
Create Date: 2026-12-07 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0024_customer_mobile'
down_revision = '0015_credit_applications'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: filled in by the next full sync; until then SMS stages send email, as before.
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mobile', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('mobile')
