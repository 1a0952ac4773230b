"""dunning_holds: a credit controller pauses chasing one customer, with a reason and an optional end date

Revision ID: 0019_dunning_holds
Revises: 0018_suppression_channel
Create Date: 2026-12-08 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import addon.models.base

revision = '0019_dunning_holds'
down_revision = '0018_suppression_channel'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dunning_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('set_by', sa.String(length=255), nullable=False),
    sa.Column('set_at', addon.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', addon.models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', addon.models.base.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_dunning_holds_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_dunning_holds_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dunning_holds')),
    sa.UniqueConstraint('tenant_id', 'customer_id', name=op.f('uq_dunning_holds_tenant_id_customer_id'))
    )
    with op.batch_alter_table('dunning_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dunning_holds_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    # The holds' history stays in the audit log (customer.hold_set / customer.hold_lifted).
    with op.batch_alter_table('dunning_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dunning_holds_tenant_id'))
    op.drop_table('dunning_holds')
