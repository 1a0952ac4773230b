"""credit allocations: when a credit was applied and by which platform document

QBO applies a CreditMemo to an invoice with a Payment of its own, often long after the memo's date; the
mirror keys those allocations by the applying Payment's id (so a later sync can replace or drop them) and
dates them by its TxnDate. Xero's allocations leave both NULL (the credit note's date stands in).

Revision ID: 0015_credit_applications
Revises: 0014_platform_refusals
Create Date: 2026-12-07 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015_credit_applications'
down_revision = '0014_platform_refusals'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('credit_allocations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applied_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('source_id', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_credit_allocations_tenant_source', ['tenant_id', 'source_id'])


def downgrade() -> None:
    with op.batch_alter_table('credit_allocations', schema=None) as batch_op:
        batch_op.drop_index('ix_credit_allocations_tenant_source')
        batch_op.drop_column('source_id')
        batch_op.drop_column('applied_on')
