"""reconcile: count the platform's refusals of a match, so the next attempt sends a fresh idempotency key

A refused request's key may be answered by replaying the refusal (the Xero emulator does; Xero does not
document it), so re-confirming a match after fixing the cause (e.g. the bank account setting) must not send
that key again.

Revision ID: 0014_platform_refusals
Revises: 0013_one_active_model
Create Date: 2026-12-07 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014_platform_refusals'
down_revision = '0013_one_active_model'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform_refusals', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.drop_column('platform_refusals')
