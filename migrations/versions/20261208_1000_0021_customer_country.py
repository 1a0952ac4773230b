"""customers keep the country of their address (ISO 3166 alpha-2) for dunning's public holidays

Revision ID: 0021_customer_country
Revises: 0020_one_active_pooled_model
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021_customer_country'
down_revision = '0020_one_active_pooled_model'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: filled in by the next full sync; until then only the organisation's holidays apply, as before.
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('country', sa.String(length=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('country')
