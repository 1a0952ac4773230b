"""Request dates over HTTP: the two forms Xero accepts are read exactly, and a date that is not one is a 400
ValidationException naming it (never a 500, never a silently different day)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import requests

from connectors.xero.emulator.testing import XeroSandbox


def contact_id(sandbox: XeroSandbox) -> str:
    return next(iter(sandbox.store.contacts))


def new_invoice(contact: str, **dates: Any) -> dict[str, Any]:
    return {"Type": "ACCREC", "Contact": {"ContactID": contact}, "Date": "2026-11-03", "DueDate": "2026-12-03",
            "LineItems": [{"Description": "work", "Quantity": 1, "UnitAmount": 5}], **dates}


@pytest.mark.parametrize(("sent", "expected"), [
    ({"Date": "2026-12-06", "DueDate": "2026-12-31"}, (date(2026, 12, 6), date(2026, 12, 31))),
    # 1765000000000 ms after the epoch is 2025-12-06T05:46:40Z.
    ({"Date": "/Date(1765000000000+0000)/", "DueDate": "2026-12-06"}, (date(2025, 12, 6), date(2026, 12, 6))),
    ({"Date": "/Date(1765000000000)/", "DueDate": "2026-12-06T23:59:59"}, (date(2025, 12, 6), date(2026, 12, 6))),
    ({"Date": "2024-02-29T10:00:00.123"}, (date(2024, 2, 29), date(2026, 12, 3))),
])
def test_the_date_forms_xero_accepts_are_read_exactly(sandbox: XeroSandbox, api: requests.Session,
                                                      sent: dict[str, Any], expected: tuple[date, date]) -> None:
    resp = api.put(sandbox.api_url("/Invoices"), json=new_invoice(contact_id(sandbox), **sent))
    assert resp.status_code == 200, resp.text
    made = sandbox.store.invoice(resp.json()["Invoices"][0]["InvoiceID"])
    assert (made.date, made.due_date) == expected


@pytest.mark.parametrize("bad", [
    "2026-02-30", "2026-13-01", "2026-12-06T25:00:00", "2026-12-06T10:61:00", "tomorrow", "06/12/2026",
    "/Date(99999999999999999999+0000)/", "/Date(1765000000000+0099)/", 20261206,
])
@pytest.mark.parametrize("field", ["Date", "DueDate"])
def test_an_invalid_invoice_date_is_a_validation_exception_and_creates_nothing(
        sandbox: XeroSandbox, api: requests.Session, field: str, bad: Any) -> None:
    before = len(sandbox.store.invoices)
    resp = api.put(sandbox.api_url("/Invoices"), json=new_invoice(contact_id(sandbox), **{field: bad}))
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert (body["ErrorNumber"], body["Type"]) == (10, "ValidationException")
    assert body["Elements"][0]["ValidationErrors"] == [{"Message": f"The date '{bad}' is not a valid date."}]
    assert len(sandbox.store.invoices) == before


def test_an_invalid_payment_date_is_a_validation_exception(sandbox: XeroSandbox, api: requests.Session) -> None:
    inv = next(i for i in sandbox.store.invoices.values() if i.status == "AUTHORISED" and i.amount_due > 1)
    paid = inv.amount_paid
    resp = api.put(sandbox.api_url("/Payments"), json={
        "Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "090"}, "Date": "/Date(-99999999999999999999)/",
        "Amount": 1})
    assert resp.status_code == 400, resp.text
    assert resp.json()["Type"] == "ValidationException"
    assert inv.amount_paid == paid
