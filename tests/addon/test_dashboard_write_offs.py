"""The allowance for doubtful accounts on the dashboard, from the tenant's own write-offs (real database)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from addon.models import CreditAllocation, CreditNote, Customer, Invoice, Payment, PaymentAllocation, Role
from addon.services.dashboard import tenant_dashboard
from tests.addon.test_dashboard import TODAY

OLD_DUE = TODAY - timedelta(days=400)


def _bad_debt_ledger(db, make_tenant):  # type: ignore[no-untyped-def]
    """8 old invoices paid, 2 voided and 1 credited in full well after their due date (written off), 1
    credited and 1 voided before it (corrections); open: 1,000 GBP 100 days overdue, 500 GBP not yet due."""
    tenant = make_tenant(name="Bad Debt Ltd")
    buyer = Customer(tenant_id=tenant.id, remote_id="c-bd", name="Buyer")
    db.add(buyer)
    db.flush()

    def inv(n: str, status: str, *, due=OLD_DUE, amount_due="0.00", updated_days=None) -> Invoice:  # type: ignore[no-untyped-def]
        row = Invoice(tenant_id=tenant.id, remote_id=n, number=n, customer_id=buyer.id, currency="GBP",
                      issue_date=due - timedelta(days=30), due_date=due, total=Decimal("100.00") if amount_due == "0.00"
                      else Decimal(amount_due), amount_due=Decimal(amount_due), status=status,
                      remote_updated_at=None if updated_days is None
                      else datetime.combine(due + timedelta(days=updated_days), time(12), tzinfo=UTC))
        db.add(row)
        db.flush()
        return row

    def settle(row: Invoice, kind: str, days: int) -> None:
        when = row.due_date + timedelta(days=days)
        if kind == "payment":
            pay = Payment(tenant_id=tenant.id, remote_id=f"p-{row.number}", date=when, amount=row.total, currency="GBP")
            pay.allocations = [PaymentAllocation(tenant_id=tenant.id, invoice_id=row.id,
                                                 invoice_remote_id=row.remote_id, amount=row.total, currency="GBP")]
            db.add(pay)
        else:
            note = CreditNote(tenant_id=tenant.id, remote_id=f"cn-{row.number}", date=when, currency="GBP",
                              total=row.total, remaining=Decimal("0"))
            note.allocations = [CreditAllocation(tenant_id=tenant.id, invoice_id=row.id,
                                                 invoice_remote_id=row.remote_id, amount=row.total, currency="GBP")]
            db.add(note)

    for n in range(8):
        settle(inv(f"PAID-{n}", "paid"), "payment", n - 3)
    inv("VOID-1", "voided", updated_days=120)
    inv("VOID-2", "voided", updated_days=150)
    settle(inv("CREDITED", "paid"), "credit", 100)
    settle(inv("REPRICED", "paid"), "credit", -10)  # a correction before due: not bad debt
    inv("CANCELLED", "voided", updated_days=-5)  # a cancelled sale
    inv("OLD-OPEN", "open", due=TODAY - timedelta(days=100), amount_due="1000.00")
    inv("NEW-OPEN", "open", due=TODAY + timedelta(days=20), amount_due="500.00")
    db.commit()
    return tenant


def test_dashboard_books_an_allowance_from_the_tenants_write_offs(db, make_tenant) -> None:
    tenant = _bad_debt_ledger(db, make_tenant)
    data = tenant_dashboard(db, tenant, TODAY)
    rates = {r["bucket"]: r for r in data["write_off_rates"]}
    assert (rates["current"]["past_invoices_unpaid"], rates["current"]["past_invoices_written_off"]) == (11, 3)
    assert (rates["91-180"]["past_invoices_unpaid"], rates["91-180"]["past_invoices_written_off"]) == (3, 3)
    gbp = data["currencies"]["GBP"]
    buckets = {b["bucket"]: b for b in gbp["allowance"]["buckets"]}
    old_rate = Decimal(rates["91-180"]["rate"])
    assert Decimal("0.2") < old_rate < Decimal("1")
    assert buckets["91-180"] == {"bucket": "91-180", "rate": str(old_rate), "invoices": 1, "balance": "1000.00",
                                 "allowance": str((Decimal("1000.00") * old_rate).quantize(Decimal("0.01")))}
    assert buckets["current"]["balance"] == "500.00"
    assert Decimal(gbp["allowance"]["total"]) == sum(Decimal(b["allowance"]) for b in buckets.values())
    # The forecast no longer expects the uncollectable share: at most outstanding less the allowance.
    expected = sum(Decimal(w["expected"]) for w in gbp["forecast"])
    assert expected <= Decimal(gbp["outstanding"]) - Decimal(gbp["allowance"]["total"]) + Decimal("0.01")
    assert expected < Decimal("1500.00") - Decimal("200")


def test_without_write_offs_the_forecast_expects_everything(db, make_tenant) -> None:
    tenant = make_tenant(name="Good Payers Ltd")
    buyer = Customer(tenant_id=tenant.id, remote_id="c-gp", name="Buyer")
    db.add(buyer)
    db.flush()
    db.add(Invoice(tenant_id=tenant.id, remote_id="O", number="O", customer_id=buyer.id, currency="GBP",
                   issue_date=TODAY - timedelta(days=130), due_date=TODAY - timedelta(days=100),
                   total=Decimal("1000.00"), amount_due=Decimal("1000.00"), status="open"))
    db.commit()
    gbp = tenant_dashboard(db, tenant, TODAY)["currencies"]["GBP"]
    assert gbp["allowance"]["total"] == "0.00"
    assert sum(Decimal(w["expected"]) for w in gbp["forecast"]) == Decimal("1000.00")


def test_dashboard_page_and_api_show_the_allowance(client, db, make_tenant, sign_in) -> None:
    tenant = _bad_debt_ledger(db, make_tenant)
    sign_in(tenant, Role.VIEWER)
    html = client.get(f"/tenants/{tenant.id}/dashboard").data.decode()
    api = client.get(f"/api/tenants/{tenant.id}/dashboard").json
    total = api["currencies"]["GBP"]["allowance"]["total"]
    assert f"Allowance for doubtful accounts: {total}" in html
    assert api["write_off_rates"][0]["past_invoices_written_off"] == 3


def test_a_generated_ledger_with_bad_debt_gets_rates_that_rise_with_age(db, make_tenant) -> None:
    # The emulators' company, through sync: its voids and full credits 90-180 days past due are found.
    from datetime import date

    from tests.addon.helpers import mirror_generated_company

    tenant = make_tenant(name="Generated Ltd")
    today = date(2026, 11, 1)
    mirror_generated_company(db, tenant, 7, customers=40, invoices=1500, today=today, write_offs=True)
    db.commit()
    data = tenant_dashboard(db, tenant, today)
    rates = {r["bucket"]: r for r in data["write_off_rates"]}
    assert rates["current"]["past_invoices_written_off"] > 10
    assert rates["91-180"]["past_invoices_written_off"] == rates["current"]["past_invoices_written_off"]
    assert Decimal(rates["current"]["rate"]) < Decimal("0.05") < Decimal(rates["91-180"]["rate"])
    assert sum(Decimal(c["allowance"]["total"]) for c in data["currencies"].values()) > 0
