"""suppressions: email -> address, plus channel ('email' | 'sms'), unique per (tenant, channel, address)

The column has held E.164 mobile numbers suppressed for SMS (reasons sms_stop / sms_invalid) next to e-mail
addresses since SMS stages came; the channel now says which list a row is on.

Revision ID: 0018_suppression_channel
Revises: 0017_customer_mobile
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018_suppression_channel'
down_revision = '0017_customer_mobile'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('suppressions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_suppressions_tenant_id_email', type_='unique')
        batch_op.alter_column('email', new_column_name='address', existing_type=sa.String(length=320),
                              existing_nullable=False)
        batch_op.add_column(sa.Column('channel', sa.String(length=10), nullable=True))
    # Only SMS writes the sms_* reasons (a STOP reply, a number the provider refused): those rows are numbers.
    op.execute("UPDATE suppressions SET channel = CASE WHEN substr(reason, 1, 4) = 'sms_' THEN 'sms' "
               "ELSE 'email' END")
    with op.batch_alter_table('suppressions', schema=None) as batch_op:
        batch_op.alter_column('channel', existing_type=sa.String(length=10), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_suppressions_tenant_id_channel_address'),
                                          ['tenant_id', 'channel', 'address'])


def downgrade() -> None:
    # One list again: an address on both lists (not a real case: numbers and e-mail addresses differ) keeps its
    # email row.
    op.execute("DELETE FROM suppressions WHERE channel = 'sms' AND EXISTS (SELECT 1 FROM suppressions other "
               "WHERE other.tenant_id = suppressions.tenant_id AND other.channel = 'email' "
               "AND other.address = suppressions.address)")
    with op.batch_alter_table('suppressions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_suppressions_tenant_id_channel_address', type_='unique')
        batch_op.drop_column('channel')
        batch_op.alter_column('address', new_column_name='email', existing_type=sa.String(length=320),
                              existing_nullable=False)
    # A second batch: SQLite's copy of the table drops a constraint added in the batch that renames its column.
    with op.batch_alter_table('suppressions', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_suppressions_tenant_id_email'), ['tenant_id', 'email'])
