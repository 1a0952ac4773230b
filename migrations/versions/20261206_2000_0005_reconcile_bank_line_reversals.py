"""reconcile: bank lines remember reversals/returns and which posted line they take back

Revision ID: 0005_line_reversals
Revises: 0004_posting_attempts
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005_line_reversals'
down_revision = '0004_posting_attempts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('bank_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reversal', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('return_reason', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('reverses_line_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_bank_lines_reverses_line_id_bank_lines'), 'bank_lines',
                                    ['reverses_line_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('bank_lines', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_bank_lines_reverses_line_id_bank_lines'), type_='foreignkey')
        batch_op.drop_column('reverses_line_id')
        batch_op.drop_column('return_reason')
        batch_op.drop_column('reversal')
