"""The collections worklist in a real Chromium: an admin records a promise to pay and a dispute from the
row forms, then withdraws the promise; the page, the database and the audit log agree after each step."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from addon.models import AuditLog, Customer, Invoice, Membership, Role, User

pytestmark = pytest.mark.browser


@pytest.fixture
def worklist_page(app, db, make_tenant, page_as, served, redis_conn):  # type: ignore[no-untyped-def]
    tenant = make_tenant(name="Browser Collect Ltd")
    acme = Customer(tenant_id=tenant.id, remote_id="c1", name="Acme")
    db.add(acme)
    db.flush()
    today = date.today()
    for n, days_overdue in (("INV-7001", 20), ("INV-7002", 5)):
        db.add(Invoice(tenant_id=tenant.id, remote_id=n, number=n, customer_id=acme.id, currency="GBP",
                       issue_date=today - timedelta(days=30 + days_overdue),
                       due_date=today - timedelta(days=days_overdue), total=Decimal("500.00"),
                       amount_due=Decimal("500.00"), status="open"))
    user = User(issuer="https://idp", subject="browser-collector", email="collector@example.test", name="Col")
    db.add(user)
    db.flush()
    db.add(Membership(tenant_id=tenant.id, user_id=user.id, role=Role.ADMIN))
    db.commit()
    page = page_as(user.id)
    page.goto(f"{served.url}/tenants/{tenant.id}/worklist")
    return page, tenant


def test_admin_records_a_promise_and_a_dispute_from_the_worklist(worklist_page, db) -> None:  # type: ignore[no-untyped-def]
    page, tenant = worklist_page
    promised = (date.today() + timedelta(days=9)).isoformat()
    page.get_by_label("Promised date for INV-7001").fill(promised)
    page.locator("tr", has_text="INV-7001").get_by_role("button", name="Promise").click()
    page.wait_for_load_state()
    assert f"INV-7001: Promise to pay by {promised} recorded." in page.content()
    assert page.locator("tr", has_text="INV-7001").get_by_text(f"promised {promised}").is_visible()

    page.get_by_label("Dispute reason for INV-7002").fill("wrong quantity")
    page.locator("tr", has_text="INV-7002").get_by_role("button", name="Dispute").click()
    page.wait_for_load_state()
    assert "INV-7002: Dispute recorded." in page.content()
    assert page.locator("tr", has_text="INV-7002").get_by_role("button", name="Resolve dispute").is_visible()

    page.locator("tr", has_text="INV-7001").get_by_role("button", name="Withdraw").click()
    page.wait_for_load_state()
    assert "INV-7001: Promise to pay withdrawn." in page.content()

    db.expire_all()
    by_number = {i.number: i for i in db.query(Invoice).filter_by(tenant_id=tenant.id)}
    assert by_number["INV-7001"].promised_on is None
    assert by_number["INV-7002"].disputed
    assert [a.action for a in db.query(AuditLog).filter_by(tenant_id=tenant.id).order_by(AuditLog.id)] == [
        "invoice.promise_recorded", "invoice.dispute_recorded", "invoice.promise_cleared"]
