"""The "apply to invoices" field of the exception queue, in Chromium, on a tenant with thousands of open
invoices: typing a number or a customer name asks the server and offers the matching open invoices in the
line's currency (the page no longer carries every open invoice)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from addon.models import BankLine, BankStatement, Match, Membership, Role, User
from tests.addon.helpers import insert_big_ledger

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_page(db, make_tenant, page_as, served):  # type: ignore[no-untyped-def]
    tenant = make_tenant(name="Big Ltd")
    insert_big_ledger(db, tenant, customers=300, invoices=3_000)
    statement = BankStatement(tenant_id=tenant.id, fingerprint="b" * 64, filename="s.csv", format="csv",
                              line_count=1)
    db.add(statement)
    db.flush()
    line = BankLine(tenant_id=tenant.id, statement_id=statement.id, dedupe_key="k1", booking_date=date(2026, 11, 2),
                    amount=Decimal("119.99"), currency="GBP", counterparty_name="Somebody", status="exception")
    db.add(line)
    db.flush()
    db.add(Match(tenant_id=tenant.id, bank_line_id=line.id, decision="none", confidence=Decimal("0"),
                 explanation="no candidate"))
    user = User(issuer="https://idp", subject="search-admin", email="admin@example.test", name="Admin")
    db.add(user)
    db.flush()
    db.add(Membership(tenant_id=tenant.id, user_id=user.id, role=Role.ADMIN))
    db.commit()
    page = page_as(user.id)
    page.goto(f"{served.url}/tenants/{tenant.id}/reconciliation")
    return page


def _offered(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all("#open-invoices option", "os => os.map(o => o.value)")


def test_typing_a_number_or_a_customer_offers_the_server_s_matches(admin_page, screenshot) -> None:
    from playwright.sync_api import expect

    page = admin_page
    assert len(_offered(page)) == 20  # the oldest due, not all 3,000
    assert "INV-02999" not in _offered(page)
    field = page.get_by_label("Invoice number 1 for the 119.99 GBP line")
    field.fill("INV-0299")
    expect(page.locator('#open-invoices option[value="INV-02999"]')).to_have_count(1)
    assert all(number.startswith("INV-0299") for number in _offered(page))
    field.fill("customer 0199")
    expect(page.locator('#open-invoices option[value="INV-01999"]')).to_have_count(1)
    texts = page.eval_on_selector_all("#open-invoices option", "os => os.map(o => o.textContent)")
    assert texts
    assert all(text.startswith("Customer 0199 · ") for text in texts)
    screenshot(page, "reconciliation-invoice-search.png")
