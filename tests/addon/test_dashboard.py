from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from addon.models import Customer, Invoice, Membership, Payment, PaymentAllocation, RiskScore, Role, User
from addon.services.dashboard import tenant_dashboard, worklist

TODAY = date.today()


@pytest.fixture
def ledger(db, make_tenant):
    tenant = make_tenant(name="Dash Ltd")
    acme = Customer(tenant_id=tenant.id, remote_id="c1", name="Acme")
    db.add(acme)
    db.flush()

    def inv(n: str, issued_ago: int, due_ago: int, total: str, due: str, status: str = "open") -> Invoice:
        row = Invoice(tenant_id=tenant.id, remote_id=n, number=n, customer_id=acme.id, currency="GBP",
                      issue_date=TODAY - timedelta(days=issued_ago), due_date=TODAY - timedelta(days=due_ago),
                      total=Decimal(total), amount_due=Decimal(due), status=status)
        db.add(row)
        db.flush()
        return row

    overdue = inv("INV-1", 60, 30, "1000.00", "1000.00")
    inv("INV-2", 10, -20, "500.00", "500.00")
    paid = inv("INV-3", 50, 20, "300.00", "0.00", status="paid")
    payment = Payment(tenant_id=tenant.id, remote_id="p1", date=TODAY - timedelta(days=15), amount=Decimal("300.00"),
                      currency="GBP")
    payment.allocations = [PaymentAllocation(tenant_id=tenant.id, invoice_id=paid.id, invoice_remote_id="INV-3",
                                             amount=Decimal("300.00"), currency="GBP")]
    db.add(payment)
    db.add(RiskScore(tenant_id=tenant.id, invoice_id=overdue.id, model_version="t", p_late=Decimal("0.9"),
                     band="high", p10_days=20, p50_days=40, p90_days=70, reasons=["paid late before"]))
    db.commit()
    return tenant


def test_dashboard_figures(db, ledger) -> None:
    data = tenant_dashboard(db, ledger, TODAY)
    gbp = data["currencies"]["GBP"]
    assert gbp["outstanding"] == "1500.00"
    assert gbp["aging"]["1-30"] == "1000.00"
    assert gbp["aging"]["current"] == "500.00"
    total_forecast = sum(Decimal(w["expected"]) for w in gbp["forecast"])
    assert Decimal("1300") < total_forecast <= Decimal("1500.01")
    assert gbp["dso_days"] is not None


def test_worklist_ranks_scored_overdue_first(db, ledger) -> None:
    work = worklist(db, ledger, TODAY)
    assert [w["number"] for w in work] == ["INV-1", "INV-2"]
    assert work[0]["band"] == "high"
    assert "30 days overdue" in work[0]["why"]


def test_dashboard_pages_are_tenant_scoped(client, db, ledger, make_tenant) -> None:
    user = User(issuer="https://idp", subject="u1", email="u@example.com")
    db.add(user)
    db.flush()
    db.add(Membership(tenant_id=ledger.id, user_id=user.id, role=Role.VIEWER))
    other = make_tenant(name="Not yours")
    db.commit()
    with client.session_transaction() as s:
        s["user_id"] = user.id
    page = client.get(f"/tenants/{ledger.id}/dashboard")
    assert page.status_code == 200
    assert b"INV-1" in page.data
    assert client.get(f"/api/tenants/{ledger.id}/worklist").json[0]["number"] == "INV-1"
    assert client.get(f"/tenants/{other.id}/dashboard").status_code == 404
    scores = client.get(f"/tenants/{ledger.id}/invoices")
    assert scores.status_code == 200
    assert b"paid late before" in scores.data
    api = client.get(f"/api/tenants/{ledger.id}/invoices").json
    assert api[0]["number"] == "INV-1"
    assert api[0]["interval_days"] == [20, 40, 70]


def test_pages_require_sign_in(client, ledger) -> None:
    resp = client.get(f"/tenants/{ledger.id}/dashboard")
    assert resp.status_code == 302
    assert "/sign-in" in resp.headers["Location"]


def _one_invoice(db, tenant, *, due_in: int, total: str, due: str, status: str = "open") -> Invoice:
    acme = Customer(tenant_id=tenant.id, remote_id="c-one", name="One")
    db.add(acme)
    db.flush()
    row = Invoice(tenant_id=tenant.id, remote_id="ONE", number="ONE", customer_id=acme.id, currency="EUR",
                  issue_date=TODAY - timedelta(days=10), due_date=TODAY + timedelta(days=due_in),
                  total=Decimal(total), amount_due=Decimal(due), status=status)
    db.add(row)
    db.flush()
    return row


def test_partly_paid_invoice_not_yet_due_is_aged_by_its_balance_without_payment_rows(db, make_tenant) -> None:
    # The mirror lacks the payment rows; the 600 already paid must not count as receivable today just
    # because the due date (when unexplained settlements are dated) is still ahead.
    tenant = make_tenant(name="Partial Ltd")
    _one_invoice(db, tenant, due_in=20, total="1000.00", due="400.00")
    db.commit()
    eur = tenant_dashboard(db, tenant, TODAY)["currencies"]["EUR"]
    assert eur["aging"]["current"] == "400.00"
    assert sum(Decimal(v) for v in eur["aging"].values()) == Decimal("400.00")


def test_paid_early_invoice_without_payment_rows_is_not_receivable(db, make_tenant) -> None:
    tenant = make_tenant(name="Early Ltd")
    _one_invoice(db, tenant, due_in=20, total="1000.00", due="0.00", status="paid")
    db.commit()
    eur = tenant_dashboard(db, tenant, TODAY)["currencies"]["EUR"]
    assert sum(Decimal(v) for v in eur["aging"].values()) == Decimal("0")


def test_forecast_keeps_a_zero_day_quantile_from_the_risk_model(db, make_tenant) -> None:
    # p10 = p50 = p90 = 0 days ("pays on the due date"): 0 is a prediction, not a missing value.
    tenant = make_tenant(name="Punctual Ltd")
    inv = _one_invoice(db, tenant, due_in=2, total="800.00", due="800.00")
    db.add(RiskScore(tenant_id=tenant.id, invoice_id=inv.id, model_version="t", p_late=Decimal("0.05"),
                     band="low", p10_days=0, p50_days=0, p90_days=0, reasons=[]))
    db.commit()
    forecast = tenant_dashboard(db, tenant, TODAY)["currencies"]["EUR"]["forecast"]
    assert forecast[0]["expected"] == "800.00"


def test_credit_note_reduces_credit_sales_rather_than_counting_as_collected(db, make_tenant) -> None:
    from addon.models import CreditAllocation, CreditNote

    tenant = make_tenant(name="Credit Ltd")
    acme = Customer(tenant_id=tenant.id, remote_id="c-cr", name="Cr")
    db.add(acme)
    db.flush()
    rows = {}
    for n, issued_ago, due_ago, due, status in (("OLD", 60, 30, "300.00", "open"),
                                               ("CANCELLED", 20, -10, "0.00", "paid")):
        rows[n] = Invoice(tenant_id=tenant.id, remote_id=n, number=n, customer_id=acme.id, currency="GBP",
                          issue_date=TODAY - timedelta(days=issued_ago), due_date=TODAY - timedelta(days=due_ago),
                          total=Decimal("300.00"), amount_due=Decimal(due), status=status)
        db.add(rows[n])
    db.flush()
    note = CreditNote(tenant_id=tenant.id, remote_id="cn1", customer_id=acme.id,
                      date=TODAY - timedelta(days=5), currency="GBP", total=Decimal("300.00"),
                      remaining=Decimal("0"))
    note.allocations = [CreditAllocation(tenant_id=tenant.id, invoice_id=rows["CANCELLED"].id,
                                         invoice_remote_id="CANCELLED", amount=Decimal("300.00"), currency="GBP")]
    db.add(note)
    db.commit()
    gbp = tenant_dashboard(db, tenant, TODAY)["currencies"]["GBP"]
    # Nothing was collected in the last 30 days: the only movement is a sale taken back by a credit note.
    assert gbp["cei_percent"] == "0.0"
    # 300 outstanding over net credit sales of 300 in 90 days
    assert gbp["dso_days"] == "90.0"


@pytest.fixture
def mixed(db, make_tenant):
    """A GBP tenant owed 10,000 JPY, 5,000 GBP, 1,000 USD (at 0.79) and 900,000 EUR without a rate, all
    equally overdue and unscored."""
    tenant = make_tenant(name="Mixed Ltd", base_currency="GBP")
    buyer = Customer(tenant_id=tenant.id, remote_id="c-mixed", name="Buyer")
    db.add(buyer)
    db.flush()
    for number, currency, amount, rate in (("JPY-1", "JPY", "10000", "0.0052493438"), ("GBP-1", "GBP", "5000", "1"),
                                           ("USD-1", "USD", "1000.00", "0.79"), ("EUR-1", "EUR", "900000", None)):
        db.add(Invoice(tenant_id=tenant.id, remote_id=number, number=number, customer_id=buyer.id, currency=currency,
                       issue_date=TODAY - timedelta(days=40), due_date=TODAY - timedelta(days=10),
                       total=Decimal(amount), amount_due=Decimal(amount), status="open",
                       home_rate=Decimal(rate) if rate is not None else None))
    db.add(Invoice(tenant_id=tenant.id, remote_id="GBP-0", number="GBP-0", customer_id=buyer.id, currency="GBP",
                   issue_date=TODAY - timedelta(days=40), due_date=TODAY - timedelta(days=10),
                   total=Decimal("60"), amount_due=Decimal("60"), status="open"))  # mirrored before 0009: no rate
    db.commit()
    return tenant


def test_worklist_ranks_in_the_home_currency(db, mixed) -> None:
    work = worklist(db, mixed, TODAY)
    # Raw amounts ranked EUR, JPY, GBP, USD: the yen looked twice the pounds.
    assert [w["number"] for w in work] == ["GBP-1", "USD-1", "GBP-0", "JPY-1", "EUR-1"]
    by_number = {w["number"]: w for w in work}
    assert (by_number["JPY-1"]["amount_due"], by_number["JPY-1"]["home_amount_due"]) == ("10000.00", "52.49")
    assert by_number["USD-1"]["home_amount_due"] == "790.00"
    assert by_number["GBP-0"]["home_amount_due"] == "60.00"  # the home currency needs no rate
    eur = by_number["EUR-1"]
    assert (eur["rate_missing"], eur["home_amount_due"], eur["priority"]) == (True, None, None)
    assert "no exchange rate for EUR" in eur["why"]
    assert all(w["home_currency"] == "GBP" for w in work)


def test_worklist_page_shows_original_and_home_amounts(client, db, mixed, sign_in) -> None:
    sign_in(mixed, Role.VIEWER)
    page = client.get(f"/tenants/{mixed.id}/worklist")
    assert page.status_code == 200
    html = page.data.decode()
    for shown in ("JPY 10,000<", "≈ GBP 52.49", "USD 1,000.00", "≈ GBP 790.00", "EUR 900,000.00",
                  "no exchange rate"):  # thousands grouped, each currency in its own decimals (the yen has none)
        assert shown in html
    assert "≈ GBP 5,000" not in html  # a home-currency amount is shown once
    assert html.index("GBP-1") < html.index("USD-1") < html.index("JPY-1") < html.index("EUR-1")
    api = client.get(f"/api/tenants/{mixed.id}/worklist").json
    assert [w["number"] for w in api][:2] == ["GBP-1", "USD-1"]
