"""reconcile: count the platform's refusals per part of a partly saved posting

When a posting is partly saved (a Xero batch payment saved, then its overpayment refused), a retry must keep
the saved parts' idempotency keys (replayed, never paid twice) but send a fresh key for the refused part, whose
old key may be answered by replaying the refusal. ``matches.part_refusals`` holds, per part, how often it was
refused (``{"-overpayment": 1}``).

Revision ID: 0016_part_refusals
Revises: 0015_credit_applications
Create Date: 2026-12-07 10:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016_part_refusals'
down_revision = '0015_credit_applications'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('part_refusals', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.drop_column('part_refusals')
