"""Send-time optimisation from the database: reminders followed by payment teach a customer's slot."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from addon.models import Customer, DunningAction, Invoice, Tenant
from addon.services.dunning_inputs import _send_slots
from addon.services.dunning_policies import ensure_default_policy

FIRST_TUESDAY = datetime(2026, 6, 2, 13, 0, tzinfo=UTC)  # 14:00 in London (BST), 09:00 in New York (EDT)


def _paid_after_four_weekly_reminders(db: Session, tenant: Tenant, customer: Customer) -> None:
    """Four Tuesday reminders at FIRST_TUESDAY's time, each invoice paid the same day."""
    for week in range(4):
        sent = FIRST_TUESDAY + timedelta(weeks=week)
        ref = f"{customer.remote_id}-{week}"
        inv = Invoice(tenant_id=tenant.id, remote_id=ref, number=f"INV-{ref}", customer_id=customer.id,
                      currency="GBP", issue_date=date(2026, 5, 1), due_date=date(2026, 5, 31), total=Decimal(100),
                      amount_due=Decimal(0), status="paid", fully_paid_on=sent.date())
        db.add(inv)
        db.flush()
        db.add(DunningAction(tenant_id=tenant.id, exactly_once_key=f"{ref}:overdue_7", invoice_id=inv.id,
                             customer_id=customer.id, stage_key="overdue_7", tone="firm", channel="email",
                             status="sent", sent_at=sent))
    db.flush()


def test_slot_is_learned_from_reminders_that_were_followed_by_payment(db, make_tenant) -> None:
    tenant = make_tenant()
    fast = Customer(tenant_id=tenant.id, remote_id="C-fast", name="Prompt Ltd", timezone="Europe/London")
    new = Customer(tenant_id=tenant.id, remote_id="C-new", name="New Ltd", timezone="Europe/London")
    db.add_all([fast, new])
    db.flush()
    _paid_after_four_weekly_reminders(db, tenant, fast)
    slots = _send_slots(db, tenant, [fast, new])
    assert "C-new" not in slots  # no evidence: the tenant default applies
    slot = slots["C-fast"]
    assert slot.hour == 14
    assert slot.weekday == 1  # Tuesday


def test_customer_without_timezone_is_read_in_the_tenants_dunning_timezone(db, make_tenant) -> None:
    """The settings page stores the timezone on the default policy; slots are learnt in that zone."""
    tenant = make_tenant()
    policy = ensure_default_policy(db, tenant)
    policy.options = {**(policy.options or {}), "timezone": "America/New_York"}
    customer = Customer(tenant_id=tenant.id, remote_id="C-ny", name="Hudson Ltd", timezone=None)
    db.add(customer)
    db.flush()
    _paid_after_four_weekly_reminders(db, tenant, customer)
    slot = _send_slots(db, tenant, [customer])["C-ny"]
    assert (slot.weekday, slot.hour) == (1, 9)
