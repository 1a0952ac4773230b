"""tenants keep the organisation's country as the platform reports it (default region of dunning's holidays)

Revision ID: 0011_tenant_country
Revises: 0010_money_three_decimals
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011_tenant_country'
down_revision = '0010_money_three_decimals'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: filled in by the next full sync (the daily sweep); until then the holidays default to the
    # timezone's country, as before.
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('country', sa.String(length=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('country')
