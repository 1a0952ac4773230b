"""invoices (tenant_id, status, currency) and payments (tenant_id, date): what the dashboard reads of a
tenant with a long settled history (addon/services/dashboard.py, docs/forecasting.md "Reading only what the
figures need")

Revision ID: 0022_dashboard_read_indexes
Revises: 0021_customer_country
Create Date: 2026-12-08 09:30:00
"""

from __future__ import annotations

from alembic import op

revision = '0022_dashboard_read_indexes'
down_revision = '0021_customer_country'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Counting the tenant's invoices per currency reads this index alone, not every invoice row.
    op.create_index('ix_invoices_tenant_status_currency', 'invoices', ['tenant_id', 'status', 'currency'])
    # The payments dated since the start of DSO's period, instead of every allocation of the tenant.
    op.create_index('ix_payments_tenant_date', 'payments', ['tenant_id', 'date'])


def downgrade() -> None:
    op.drop_index('ix_payments_tenant_date', table_name='payments')
    op.drop_index('ix_invoices_tenant_status_currency', table_name='invoices')
