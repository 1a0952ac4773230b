"""Every page an accountant reaches from the navigation, in a real Chromium: it has its own title, the
navigation marks where they are, every field and button has a name, and no link on it leads to an error."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from addon.models import Customer, Invoice, Membership, Role, User
from addon.services.dunning_policies import ensure_default_policy

pytestmark = pytest.mark.browser

# Fields and buttons without an accessible name (label, aria-label, aria-labelledby or title; for buttons
# their text): a screen reader announces them as just "edit text" or "button".
UNNAMED = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button')).filter(el => {
  const named = (el.labels && el.labels.length) || el.getAttribute('aria-label') ||
                el.getAttribute('aria-labelledby') || el.getAttribute('title') ||
                (el.tagName === 'BUTTON' && el.textContent.trim());
  return !named;
}).map(el => el.outerHTML.slice(0, 120))"""


@pytest.fixture
def admin(db, make_tenant, page_as):  # type: ignore[no-untyped-def]
    tenant = make_tenant(name="Tour Ltd")
    acme = Customer(tenant_id=tenant.id, remote_id="c1", name="Acme")
    db.add(acme)
    db.flush()
    today = date.today()
    db.add(Invoice(tenant_id=tenant.id, remote_id="i1", number="INV-1", customer_id=acme.id, currency="GBP",
                   issue_date=today - timedelta(days=40), due_date=today - timedelta(days=10),
                   total=Decimal("1234.50"), amount_due=Decimal("1234.50"), status="open"))
    ensure_default_policy(db, tenant)
    user = User(issuer="https://idp", subject="tour", email="tour@example.test", name="Tour")
    db.add(user)
    db.flush()
    db.add(Membership(tenant_id=tenant.id, user_id=user.id, role=Role.ADMIN))
    db.commit()
    return page_as(user.id), tenant


def test_every_page_in_the_navigation_is_titled_named_and_links_nowhere_broken(admin, served, client) -> None:
    page, tenant = admin
    page.goto(f"{served.url}/tenants/{tenant.id}")
    nav = [(link.inner_text(), link.get_attribute("href")) for link in page.locator("header nav a").all()]
    assert [label for label, _ in nav] == ["Tour Ltd", "Dashboard", "Worklist", "Risk scores", "Dunning",
                                           "Reconciliation"]
    titles = set()
    for label, href in nav:
        page.goto(served.url + href)
        title = page.title()
        assert tenant.name in title, f"{href}: title {title!r}"
        titles.add(title)
        current = page.locator("header nav a[aria-current=page]")
        assert current.count() == 1, href
        assert current.inner_text() == label, href
        assert page.evaluate(UNNAMED) == [], href
        for link in page.locator("main a[href^='/']").all():
            target = link.get_attribute("href")
            assert page.request.get(served.url + target, max_redirects=0).status < 400, (href, target)
    assert len(titles) == len(nav)  # each page tells which one it is


def test_stage_and_language_forms_name_every_field(admin, served, db) -> None:
    page, tenant = admin
    stage = ensure_default_policy(db, tenant).stages[0]
    for path in (f"/tenants/{tenant.id}/dunning/stages/{stage.id}/edit",
                 f"/tenants/{tenant.id}/dunning/stages/{stage.id}/language?language=fr"):
        page.goto(served.url + path)
        assert page.evaluate(UNNAMED) == [], path


def test_the_worklist_actions_work_from_the_keyboard(admin, served) -> None:
    page, tenant = admin
    page.goto(f"{served.url}/tenants/{tenant.id}/worklist")
    page.get_by_label("Dispute reason for INV-1").focus()
    page.keyboard.type("wrong quantity")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # the row's own Dispute button, not the Promise form's
    assert page.locator("[role=status]").inner_text() == "INV-1: Dispute recorded."
    resolve = page.get_by_role("button", name="Resolve dispute")
    resolve.focus()
    with page.expect_navigation():
        page.keyboard.press("Space")
    assert page.locator("[role=status]").inner_text() == "INV-1: Dispute resolved."
