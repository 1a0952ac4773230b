"""invoices keep the exchange rate the platform recorded on them (home currency per invoice-currency unit)

Revision ID: 0009_invoice_home_rate
Revises: 0008_webhook_not_before
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009_invoice_home_rate'
down_revision = '0008_webhook_not_before'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: mirrored rows get their rate on the next sync (the daily sweep reads every invoice);
    # until then the worklist treats them as having no rate.
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('home_rate', sa.Numeric(precision=24, scale=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('home_rate')
