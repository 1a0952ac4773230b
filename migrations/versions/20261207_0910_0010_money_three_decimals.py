"""money: amount columns keep three decimals (KWD, BHD, JOD, OMR, TND have 3 minor digits)

NUMERIC(18, 2) rounded 12.345 KWD to 12.35, so a line and an invoice a fils apart looked alike and a
posted amount lost its last digit. Widening is lossless; the downgrade rounds three-decimal amounts to
two again.

Revision ID: 0010_money_three_decimals
Revises: 0009_invoice_home_rate
Create Date: 2026-12-07 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010_money_three_decimals'
down_revision = '0009_invoice_home_rate'
branch_labels = None
depends_on = None

# table -> (column, nullable) of every money column (addon.models.base.Money)
COLUMNS = {
    'bank_lines': [('amount', False)],
    'credit_notes': [('total', False), ('remaining', False)],
    'credit_allocations': [('amount', False)],
    'dunning_stages': [('min_amount', True)],
    'invoices': [('total', False), ('amount_due', False), ('amount_paid', False), ('amount_credited', False)],
    'payments': [('amount', False), ('unapplied_amount', False)],
    'payment_allocations': [('amount', False)],
}


def _alter(scale_from: int, scale_to: int) -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, nullable in columns:
                batch_op.alter_column(column, existing_type=sa.Numeric(precision=18, scale=scale_from),
                                      type_=sa.Numeric(precision=18, scale=scale_to), existing_nullable=nullable)


def upgrade() -> None:
    _alter(2, 3)


def downgrade() -> None:
    _alter(3, 2)
