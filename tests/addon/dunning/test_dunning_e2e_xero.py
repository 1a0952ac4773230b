"""End to end against the Xero emulator over real HTTP: a sequence across simulated days arrives in the
SMTP sink in order, tone and timing; a payment made in Xero stops its invoice's sequence; the reminder
notes show up in the invoice's History & Notes in Xero."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import requests

from addon.services.dunning import run_dunning
from addon.services.sync import backfill
from connectors.xero.emulator.testing import XeroSandbox, make_connector, start_xero_emulator
from tests.addon.dunning.conftest import at

DUE = date(2026, 11, 19)  # a Thursday: D-3, D+1, D+8 and D+15 are all weekdays


@pytest.fixture
def xero() -> Iterator[XeroSandbox]:
    with start_xero_emulator(seed=3, customers=1, invoices=1) as sandbox:
        yield sandbox


def _create(api: requests.Session, sandbox: XeroSandbox, name: str, email: str, amount: str) -> str:
    """A contact and an authorised invoice due on DUE, created through the Accounting API; returns its id."""
    contact = api.put(sandbox.api_url("/Contacts"), json={"Contacts": [{"Name": name, "EmailAddress": email}]})
    contact_id = contact.json()["Contacts"][0]["ContactID"]
    invoice = api.put(sandbox.api_url("/Invoices"), json={"Invoices": [{
        "Type": "ACCREC", "Contact": {"ContactID": contact_id}, "Date": "2026-10-20", "DueDate": DUE.isoformat(),
        "Status": "AUTHORISED", "CurrencyCode": "GBP",
        "LineItems": [{"Description": "Consulting", "Quantity": 1, "UnitAmount": amount}]}]})
    assert invoice.status_code == 200, invoice.text
    return str(invoice.json()["Invoices"][0]["InvoiceID"])


def test_a_reminder_sequence_across_days_stops_when_paid_in_xero(app, db, make_tenant, xero, smtp_server,
                                                                 mailer) -> None:
    api = xero.user_session()
    acme = _create(api, xero, "Acme Ltd", "ap@acme.example", "480.00")
    globex = _create(api, xero, "Globex BV", "ar@globex.example", "120.00")
    tenant = make_tenant(platform="xero", remote_id=xero.tenant_id, name="Example Supplies Ltd")
    connector = make_connector(xero)
    backfill(db, tenant, connector, now=at(DUE - timedelta(days=30)))
    db.commit()

    def run(day: date, hour: int = 10) -> dict[str, object]:
        return run_dunning(db, tenant, connector, at(day, hour), mailer)

    def arrived(address: str) -> list[tuple[str, str]]:
        return [(m.message["Subject"], m.message["Date"]) for m in smtp_server.sink.arrived
                if m.rcpt_tos == [address]]

    # Three days before due, at 06:00: planned for the 09:00 send hour, so nothing leaves yet.
    assert run(DUE - timedelta(days=3), hour=6).get("later", 0) >= 2
    assert arrived("ap@acme.example") == []
    run(DUE - timedelta(days=3))
    run(DUE + timedelta(days=1))
    run(DUE + timedelta(days=8))
    # Globex pays in Xero after the third reminder; Cashline has not synced since.
    paid = api.put(xero.api_url("/Payments"), json={"Payments": [{
        "Invoice": {"InvoiceID": globex}, "Account": {"Code": "090"}, "Date": "2026-11-28", "Amount": "120.00"}]})
    assert paid.status_code == 200, paid.text
    summary = run(DUE + timedelta(days=15))
    assert summary["stopped_now"] == 1
    run(DUE + timedelta(days=16))  # nothing new is due: no mail

    assert arrived("ap@acme.example") == [
        ("Upcoming payment to Example Supplies Ltd", "Mon, 16 Nov 2026 10:00:00 +0000"),  # pre_due, friendly
        ("Payment due today: Example Supplies Ltd", "Fri, 20 Nov 2026 10:00:00 +0000"),  # due, friendly
        ("Reminder: overdue payment to Example Supplies Ltd", "Fri, 27 Nov 2026 10:00:00 +0000"),  # +7 firm
        ("Second reminder: overdue payment to Example Supplies Ltd", "Fri, 04 Dec 2026 10:00:00 +0000"),  # +14
    ]
    assert [s for s, _ in arrived("ar@globex.example")] == [
        "Upcoming payment to Example Supplies Ltd", "Payment due today: Example Supplies Ltd",
        "Reminder: overdue payment to Example Supplies Ltd"]  # stopped by the payment

    history = api.get(xero.api_url(f"/Invoices/{acme}/History")).json()["HistoryRecords"]
    notes = [h["Details"] for h in history if h["Details"].startswith("Reminder")]
    assert notes == ["Reminder 1 (friendly) sent to ap@acme.example", "Reminder 2 (friendly) sent to ap@acme.example",
                     "Reminder 3 (firm) sent to ap@acme.example", "Reminder 4 (firm) sent to ap@acme.example"]
    globex_notes = [h["Details"] for h in api.get(xero.api_url(f"/Invoices/{globex}/History")).json()["HistoryRecords"]
                    if h["Details"].startswith("Reminder")]
    assert len(globex_notes) == 3
