"""Send-time optimisation from the database: reminders followed by payment teach a customer's slot."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from addon.models import Customer, DunningAction, Invoice
from addon.services.dunning_inputs import _send_slots


def test_slot_is_learned_from_reminders_that_were_followed_by_payment(db, make_tenant) -> None:
    tenant = make_tenant()
    fast = Customer(tenant_id=tenant.id, remote_id="C-fast", name="Prompt Ltd", timezone="Europe/London")
    new = Customer(tenant_id=tenant.id, remote_id="C-new", name="New Ltd", timezone="Europe/London")
    db.add_all([fast, new])
    db.flush()
    first_tuesday = datetime(2026, 6, 2, 13, 0, tzinfo=UTC)  # 14:00 in London (BST)
    for week in range(4):
        sent = first_tuesday + timedelta(weeks=week)
        inv = Invoice(tenant_id=tenant.id, remote_id=f"I{week}", number=f"INV-{week}", customer_id=fast.id,
                      currency="GBP", issue_date=date(2026, 5, 1), due_date=date(2026, 5, 31), total=Decimal(100),
                      amount_due=Decimal(0), status="paid", fully_paid_on=sent.date())
        db.add(inv)
        db.flush()
        db.add(DunningAction(tenant_id=tenant.id, exactly_once_key=f"I{week}:overdue_7", invoice_id=inv.id,
                             customer_id=fast.id, stage_key="overdue_7", tone="firm", channel="email",
                             status="sent", sent_at=sent))
    db.flush()
    slots = _send_slots(db, tenant, [fast, new])
    assert "C-new" not in slots  # no evidence: the tenant default applies
    slot = slots["C-fast"]
    assert slot.hour == 14
    assert slot.weekday == 1  # Tuesday
