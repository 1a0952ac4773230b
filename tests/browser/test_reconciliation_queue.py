"""The reconciliation exception queue in a real Chromium: upload a bank statement, let the reconcile job
match it (an RQ worker in this process), then work the queue as an admin — confirm a ranked suggestion,
reject a line, and apply one line to several invoices with the multi-row form — posting through the
in-memory platform and checking the page, the database and the platform after each step."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from addon.domain.types import InvoiceStatus
from addon.models import BankLine, Customer, Match, Membership, PayerAlias, Role, User
from addon.queueing import get_queue, run_burst
from jobs.runtime import set_app
from tests.addon.reconciliation import conftest as ledger
from tests.addon.reconciliation.statements import Entry, camt053

pytestmark = pytest.mark.browser

# The mirrored ledger of the page tests (tests/addon/reconciliation/conftest.py): Acme Trading Ltd (c1)
# owes INV-1001 1200.00, INV-1002 300.00 and INV-1003 450.00; Globex BV (c2) INV-2001 999.00 and
# INV-2002 250.00; Initech GmbH (c3) INV-3001 777.77.
platform, tenant = ledger.platform, ledger.tenant

JS_IBAN = "GB99BARC20000012345678"


@pytest.fixture
def admin_page(app, db, tenant, platform, page_as, served, redis_conn, monkeypatch):  # type: ignore[no-untyped-def]
    """An admin's Chromium page on the reconciliation page; posting goes to the in-memory platform."""
    user = User(issuer="https://idp", subject="browser-admin", email="admin@example.test", name="Admin")
    db.add(user)
    db.flush()
    db.add(Membership(tenant_id=tenant.id, user_id=user.id, role=Role.ADMIN))
    db.commit()
    monkeypatch.setitem(app.config, "CONNECTOR_FACTORY", lambda t: platform)
    set_app(app)  # the worker below runs the reconcile job with this app (so with this connector)
    page = page_as(user.id)
    page.goto(f"{served.url}/tenants/{tenant.id}/reconciliation")
    return page


def _import(page: Any, redis_conn: Any, name: str, entries: list[Entry]) -> None:
    """Upload a camt.053 statement through the form, run the queued reconcile job like a worker would,
    and reload the page."""
    from playwright.sync_api import expect

    page.set_input_files("#statement", files=[{"name": name, "mimeType": "application/xml",
                                               "buffer": camt053(entries, statement_id=name)}])
    page.click("#upload-form button[type=submit]")
    expect(page.locator(".banner.info")).to_have_text(
        f"Imported {len(entries)} lines from {name} (0 already imported, 0 outgoing).")
    queue = get_queue("reconcile", redis_conn)
    assert queue.count == 1
    run_burst(redis_conn, ["reconcile"])
    page.reload()


def _line(db, payer: str) -> tuple[BankLine, Match]:  # type: ignore[no-untyped-def]
    """The line of ``payer`` and its match as committed now (the browser's requests commit elsewhere)."""
    db.rollback()  # a fresh snapshot, and no transaction left open while the browser acts
    row = db.execute(select(BankLine, Match).join(Match, Match.bank_line_id == BankLine.id)
                     .where(BankLine.counterparty_name == payer)).one()
    return row[0], row[1]


def _aliases(db) -> dict[str, str]:  # type: ignore[no-untyped-def]
    db.rollback()
    return dict(db.execute(select(PayerAlias.alias, Customer.name)
                           .join(Customer, Customer.id == PayerAlias.customer_id)).all())


def test_admin_confirms_the_top_suggestion_and_rejects_a_line(  # type: ignore[no-untyped-def]
        admin_page, db, redis_conn, platform, screenshot) -> None:
    from playwright.sync_api import expect

    page = admin_page
    _import(page, redis_conn, "nov.xml", [Entry("1200.00", "Acme Trading Ltd", text="INV-1001"),  # auto
                                          Entry("250.00", "JS HOLDINGS", JS_IBAN, text="INV-2001"),
                                          Entry("450.00", "A TRADING", text="Q4"),
                                          Entry("42.42", "Someone Else", text="birthday")])
    expect(page.locator("h2", has_text="Exception queue").locator(".pill")).to_have_text("3")
    acme, _ = _line(db, "Acme Trading Ltd")
    assert acme.status == "reconciled"  # posted by the job: not in the queue
    expect(page.locator(f"#line-{acme.id}")).to_have_count(0)
    holdings, holdings_match = _line(db, "JS HOLDINGS")
    trading, _ = _line(db, "A TRADING")
    card = page.locator(f"#line-{holdings.id}")
    expect(card).to_contain_text("250.00 GBP")
    expect(card).to_contain_text(JS_IBAN)
    expect(card.locator(".explanation")).to_contain_text("below the auto-post threshold")

    # Ranked suggestions, best first: a partial payment of the invoice the reference names, then the
    # invoice of exactly this amount.
    rows = card.locator("tr.suggestion")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td").nth(0)).to_have_text("1")
    expect(rows.nth(0).locator("td").nth(1)).to_contain_text("INV-2001")
    expect(rows.nth(0).locator("td").nth(1)).to_contain_text("Globex BV")
    expect(rows.nth(0).locator("td").nth(3)).to_contain_text("partial")
    expect(rows.nth(1).locator("td").nth(0)).to_have_text("2")
    expect(rows.nth(1).locator("td").nth(1)).to_contain_text("INV-2002")
    shown = [int(rows.nth(i).locator("td").nth(4).inner_text().rstrip("%")) for i in range(2)]
    assert shown == [round(s["confidence"] * 100) for s in holdings_match.suggestions]
    assert shown[0] > shown[1]
    assert _aliases(db) == {}

    rows.first.get_by_role("button", name="Confirm & post").click()
    expect(page.locator(".banner.info")).to_have_text("Payment posted to the platform.")
    expect(page.locator(f"#line-{holdings.id}")).to_have_count(0)
    expect(page.locator("h2", has_text="Exception queue").locator(".pill")).to_have_text("2")
    holdings, holdings_match = _line(db, "JS HOLDINGS")
    assert (holdings.status, holdings_match.status, holdings_match.residual) == ("reconciled", "posted", "partial")
    assert [(a["number"], a["amount"]) for a in holdings_match.allocations] == [("INV-2001", "250.00")]
    payment = platform.payments[holdings_match.posted_payment_ids[0]]
    assert [(a.invoice_id, a.amount) for a in payment.allocations] == [("i2001", Decimal("250.00"))]
    assert payment.unapplied_amount == 0
    assert (platform.invoices["i2001"].status, platform.invoices["i2001"].amount_due) == (
        InvoiceStatus.OPEN, Decimal("749.00"))
    # The confirmation taught the payer's name and account.
    assert _aliases(db) == {"name:JS HOLDINGS": "Globex BV", f"account:{JS_IBAN}": "Globex BV"}

    # Reject the A TRADING line although it has a suggestion (INV-1003): nothing is posted.
    card = page.locator(f"#line-{trading.id}")
    expect(card.locator("tr.suggestion")).to_contain_text("INV-1003")
    writes = len(platform.writes)
    card.get_by_role("button", name="Reject").click()
    expect(page.locator(".banner.info")).to_have_text("Line rejected: it stays unmatched and nothing is posted.")
    expect(page.locator(f"#line-{trading.id}")).to_have_count(0)
    expect(page.locator(".queue-line")).to_have_count(1)
    expect(page.locator(".queue-line")).to_contain_text("Someone Else")
    statement_row = page.locator("tr", has_text="nov.xml")
    for counted in ("exception 1", "ignored 1", "reconciled 2"):
        expect(statement_row).to_contain_text(counted)
    trading, trading_match = _line(db, "A TRADING")
    assert (trading.status, trading_match.status, trading_match.allocations) == ("ignored", "rejected", [])
    assert len(platform.writes) == writes
    assert platform.invoices["i1003"].status is InvoiceStatus.OPEN
    assert "name:A TRADING" not in _aliases(db)  # a rejection teaches nothing
    screenshot(page, "reconciliation_queue.png")

    # The learned alias at work: the next payment from that account, of INV-2002's exact amount and
    # without a reference, is posted without asking.
    _import(page, redis_conn, "dec.xml", [Entry("250.00", "JS HOLDINGS", JS_IBAN, text="thanks")])
    expect(page.locator(".queue-line")).to_have_count(1)  # still only Someone Else
    expect(page.locator("tr", has_text="dec.xml")).to_contain_text("reconciled 1")
    db.rollback()
    again = db.scalars(select(Match).join(BankLine, BankLine.id == Match.bank_line_id)
                       .where(BankLine.remittance_text == "thanks")).one()
    assert (again.decision, again.status) == ("auto", "posted")
    assert f"payer account {JS_IBAN} belongs to Globex BV" in again.explanation
    assert platform.invoices["i2002"].status is InvoiceStatus.PAID


def test_admin_applies_one_line_to_three_invoices_with_unapplied_credit(  # type: ignore[no-untyped-def]
        admin_page, db, redis_conn, platform, screenshot) -> None:
    from playwright.sync_api import expect

    page = admin_page
    _import(page, redis_conn, "oct.xml", [Entry("1600.00", "Acme Trading Ltd", text="October invoices")])
    line, match = _line(db, "Acme Trading Ltd")
    card = page.locator(f"#line-{line.id}")
    expect(card).to_contain_text("1600.00 GBP")
    form = card.locator("form.apply-form")
    expect(form.locator(".apply-row")).to_have_count(4)
    expect(form.get_by_label("Amount 1")).to_have_value("1600.00")  # the whole line, prefilled
    # The invoice fields offer the open invoices with customer and amount due.
    expect(page.locator("#open-invoices option[value='INV-1002']")).to_have_text("Acme Trading Ltd · 300.00 GBP")
    before = (match.status, match.allocations, match.residual)

    def apply(*rows: tuple[str, str]) -> None:
        for n, (number, amount) in enumerate(rows, 1):
            form.get_by_label(f"Invoice number {n}").fill(number)
            form.get_by_label(f"Amount {n}").fill(amount)
        form.get_by_role("button", name="Apply to these invoices").click()

    apply(("INV-1001", "1200.00"), ("INV-1002", "300.01"), ("INV-1003", "50.00"))  # 300.01 > due
    # The reason is shown on the line, and what was typed is still there to correct.
    expect(card.locator(f"#apply-error-{line.id}")).to_have_text(
        "Not changed: the amount for INV-1002 must be above 0 and at most 300.00")
    expect(form.get_by_label("Invoice number 3")).to_have_value("INV-1003")
    expect(form.get_by_label("Amount 2")).to_have_value("300.01")
    expect(card).to_be_visible()  # still waiting in the queue
    line, match = _line(db, "Acme Trading Ltd")
    assert (line.status, match.status, match.allocations, match.residual) == ("exception", *before)
    assert platform.writes == []
    assert _aliases(db) == {}

    apply(("INV-1001", "1200.00"), ("INV-1002", "300.00"), ("INV-1003", "50.00"))
    expect(page.locator(".banner.info")).to_have_text("Payment posted to the platform.")
    expect(page.locator("#queue-empty")).to_have_text("Nothing waits for a decision.")
    expect(page.locator("tr", has_text="oct.xml")).to_contain_text("reconciled 1")
    screenshot(page, "reconciliation_apply.png")

    line, match = _line(db, "Acme Trading Ltd")
    assert (line.status, match.status, match.residual) == ("reconciled", "posted", "overpayment")
    assert [(a["number"], a["amount"]) for a in match.allocations] == [
        ("INV-1001", "1200.00"), ("INV-1002", "300.00"), ("INV-1003", "50.00")]
    [(kind, payment)] = platform.writes
    assert kind == "create_payment"
    assert match.posted_payment_ids[0] == payment.remote_id
    assert [(a.invoice_id, a.amount) for a in payment.allocations] == [
        ("i1001", Decimal("1200.00")), ("i1002", Decimal("300.00")), ("i1003", Decimal("50.00"))]
    assert payment.unapplied_amount == Decimal("50.00")  # 1600 - 1550: unapplied credit for Acme
    assert platform.invoices["i1001"].status is platform.invoices["i1002"].status is InvoiceStatus.PAID
    assert (platform.invoices["i1003"].status, platform.invoices["i1003"].amount_due) == (
        InvoiceStatus.OPEN, Decimal("400.00"))
    assert _aliases(db) == {"name:Acme Trading Ltd": "Acme Trading Ltd"}
