"""The dry run and a run's first plan read the ledger as plain rows (``load_plan_ledger``), not as an ORM
object per invoice (``load_ledger``, which the send path keeps): on a generated ledger with every input the
planner reads (risk bands, disputes, promises, billing contacts, customer timezones and addresses, paid
history, reminders sent, suppressions), both give the same engine inputs and the same plan."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from addon.domain.dunning import action_as_json, preview_day
from addon.models import Customer, DunningAction, Invoice, RiskScore, Suppression
from addon.services.dunning_inputs import load_ledger, load_plan_ledger
from addon.services.dunning_policies import ensure_default_policy, load_policies

DAY = date(2026, 11, 21)
NOW = datetime.combine(DAY, time.max, tzinfo=UTC)
ZONES = (None, "Europe/London", "America/New_York", "Australia/Sydney")
STATUSES = ("open", "open", "open", "open", "paid", "paid", "voided")


def _generated_ledger(db, tenant, seed: int = 3, customers: int = 40, invoices: int = 600) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    rows = [Customer(tenant_id=tenant.id, remote_id=f"c{n}", name=f"Customer {n}", timezone=rng.choice(ZONES),
                     emails=[f"ap{n}@example.test"] if rng.random() < 0.9 else [])
            for n in range(customers)]
    db.add_all(rows)
    db.flush()
    for n in range(invoices):
        customer = rng.choice(rows) if rng.random() < 0.98 else None
        due = DAY + timedelta(days=rng.randrange(-70, 15))
        status = rng.choice(STATUSES)
        total = Decimal(rng.randrange(100, 500_000)) / 100
        inv = Invoice(tenant_id=tenant.id, remote_id=f"i{n}", number=f"INV-{n:05d}",
                      customer_id=customer.id if customer else None, currency=rng.choice(("GBP", "EUR")),
                      issue_date=due - timedelta(days=30), due_date=due, total=total,
                      amount_due=Decimal("0") if status != "open" or rng.random() < 0.03 else total,
                      amount_credited=Decimal("0"), status=status, disputed=rng.random() < 0.05,
                      promised_on=DAY + timedelta(days=rng.randrange(-5, 10)) if rng.random() < 0.05 else None,
                      billing_email=f"billing{n}@example.test" if rng.random() < 0.1 else None,
                      online_url=f"https://pay.example.test/{n}" if rng.random() < 0.5 else None,
                      fully_paid_on=None if status != "paid" else due + timedelta(
                          # odd customers pay late: even ones are reliable once they have paid three times
                          days=rng.randrange(1, 20) if customer and customer.id % 2 else -2))
        db.add(inv)
        db.flush()
        if rng.random() < 0.6:
            db.add(RiskScore(tenant_id=tenant.id, invoice_id=inv.id, model_version="t", p_late=Decimal("0.5"),
                             band=rng.choice(("low", "medium", "high", "unknown-band")), reasons=[]))
        if customer is not None and status == "open" and (DAY - due).days > 10 and rng.random() < 0.5:
            sent = NOW - timedelta(days=rng.randrange(1, 20))
            db.add(DunningAction(tenant_id=tenant.id, exactly_once_key=f"i{n}:overdue_7", invoice_id=inv.id,
                                 customer_id=customer.id, stage_key="overdue_7", tone="firm", channel="email",
                                 status=rng.choice(("sent", "sent", "task", "awaiting_approval")),
                                 send_at=sent, sent_at=sent))
    db.add(Suppression(tenant_id=tenant.id, channel="email", address="ap3@example.test", reason="unsubscribed"))
    ensure_default_policy(db, tenant)
    db.commit()


def test_plain_rows_give_the_same_engine_inputs_and_plan_as_orm_objects(db, make_tenant) -> None:
    tenant = make_tenant()
    _generated_ledger(db, tenant)
    config = load_policies(db, tenant)
    new = load_plan_ledger(db, tenant, NOW)
    db.expunge_all()  # the ORM loader starts from an empty session, as a request does
    old = load_ledger(db, tenant, NOW)
    assert len(new.invoices) > 300
    assert any(i.risk_band for i in new.invoices)
    assert any(c.reliable for c in new.customers)
    assert new.history
    assert new.suppressed
    assert sorted(new.invoices, key=lambda i: i.invoice_id) == sorted(old.invoices, key=lambda i: i.invoice_id)
    assert sorted(new.customers, key=lambda c: c.customer_id) == sorted(old.customers, key=lambda c: c.customer_id)
    assert new.history == old.history
    assert new.suppressed == old.suppressed
    assert new.customer_names == {k: c.name for k, c in old.customer_rows.items()} == old.customer_names
    assert not new.invoice_rows  # planning only: no rows to update by mistake
    assert not new.customer_rows

    def plan(ledger):  # type: ignore[no-untyped-def]
        return [action_as_json(a) for a in preview_day(ledger.invoices, ledger.customers, config.policies,
                                                        ledger.history, DAY, config.settings,
                                                        suppressed=ledger.suppressed)]

    planned = plan(new)
    assert len(planned) > 20
    assert planned == plan(old)
