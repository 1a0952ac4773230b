"""The dunning settings page in a real Chromium: add a stage, preview its template on a real invoice,
save, and see the new stage in tomorrow's dry run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from addon.domain.types import Contact, Invoice, InvoiceStatus
from addon.models import Membership, Role, User
from addon.services.sync import backfill
from connectors.fake import InMemoryConnector

pytestmark = pytest.mark.browser


@pytest.fixture
def tenant_with_invoice(db, make_tenant):  # type: ignore[no-untyped-def]
    """One customer whose invoice will be 3 days overdue tomorrow (tenant time, Europe/London)."""
    tomorrow = datetime.now(ZoneInfo("Europe/London")).date() + timedelta(days=1)
    platform = InMemoryConnector(tenant_remote_id="org-browser")
    platform.seed(contacts=[Contact("C1", "Acme Ltd", ("ap@acme.example",), "GBP")],
                  invoices=[Invoice("I1", "INV-0042", "C1", "GBP", tomorrow - timedelta(days=40),
                                    tomorrow - timedelta(days=3), Decimal("640.00"), Decimal("640.00"),
                                    InvoiceStatus.OPEN)])
    tenant = make_tenant(platform="fake", remote_id="org-browser", name="Example Supplies Ltd")
    backfill(db, tenant, platform, now=datetime.now(UTC))
    user = User(issuer="https://issuer.example", subject="browser-admin", email="admin@example.test", name="Admin")
    db.add(user)
    db.flush()
    db.add(Membership(tenant_id=tenant.id, user_id=user.id, role=Role.ADMIN))
    db.commit()
    return tenant, user


def test_admin_adds_a_stage_previews_it_and_sees_it_in_the_dry_run(served, page_as, screenshot,
                                                                   tenant_with_invoice) -> None:
    from playwright.sync_api import expect

    tenant, user = tenant_with_invoice
    page = page_as(user.id)
    page.goto(f"{served.url}/tenants/{tenant.id}/dunning")
    dry_run = page.locator("#dry-run")
    expect(dry_run).to_contain_text("Acme Ltd")
    expect(dry_run.locator(".dry-run-row code")).to_have_text("due")  # before: the due-date reminder

    page.click("#add-stage")
    page.fill("#key", "nudge_3")
    page.fill("#offset_days", "3")
    page.select_option("#tone", "firm")
    page.fill("#subject_template", "A quick nudge from {{ company.name }}")
    page.fill("#body_template", "Hello {{ customer.name }},\n{% for inv in invoices %}"
                                "{{ inv.number }}: {{ inv.amount_due|money(inv.currency) }}{% endfor %}")
    page.click("#preview-button")
    expect(page.locator("#preview-subject")).to_have_text("A quick nudge from Example Supplies Ltd")
    expect(page.locator("#preview-body")).to_contain_text("Hello Acme Ltd,\nINV-0042: £640.00")

    page.fill("#body_template", "Hello {{ customer.nam }}")
    page.click("#preview-button")
    expect(page.locator("#preview-problems")).to_contain_text("unknown variable 'customer.nam'")
    page.fill("#body_template", "Hello {{ customer.name }}")

    page.click("#save-stage")
    expect(page.locator("#stage-nudge_3")).to_contain_text("+3")
    expect(dry_run.locator(".dry-run-row code")).to_have_text("nudge_3")
    expect(dry_run).to_contain_text("firm")
    screenshot(page, "dunning_settings.png")
