"""GET /Organisation and invoice CurrencyRate on the Xero emulator, over raw HTTP."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import requests

from connectors.sandbox.fx import day_rate
from connectors.xero.emulator.testing import XeroSandbox, start_xero_emulator


def test_organisation_wire_format(sandbox: XeroSandbox, api: requests.Session) -> None:
    resp = api.get(sandbox.api_url("/Organisation"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["Status"] == "OK"
    [org] = body["Organisations"]
    assert org["OrganisationID"] == sandbox.tenant_id
    assert (org["Name"], org["BaseCurrency"], org["CountryCode"]) == (sandbox.store.name, "GBP", "GB")
    assert (org["OrganisationStatus"], org["Version"], org["OrganisationType"]) == ("ACTIVE", "UK", "COMPANY")
    assert org["CreatedDateUTC"].startswith("/Date(")
    assert "APIKey" not in org  # nulls are dropped, as everywhere in the emulator


def test_organisation_follows_the_base_currency(sandbox: XeroSandbox, api: requests.Session) -> None:
    sandbox.store.base_currency, sandbox.store.country_code = "NZD", "NZ"
    org = api.get(sandbox.api_url("/Organisation")).json()["Organisations"][0]
    assert (org["BaseCurrency"], org["CountryCode"], org["Version"]) == ("NZD", "NZ", "NZ")
    assert org["Timezone"] == "NEWZEALANDSTANDARDTIME"


@pytest.mark.parametrize(("headers", "status"), [
    ({"Authorization": None}, 401),
    ({"Authorization": "Bearer not-a-token"}, 401),
    ({"xero-tenant-id": None}, 403),
    ({"xero-tenant-id": "00000000-0000-0000-0000-000000000000"}, 403),
])
def test_organisation_needs_token_and_tenant(sandbox: XeroSandbox, api: requests.Session,
                                             headers: dict[str, str | None], status: int) -> None:
    merged = {**api.headers, **headers}
    resp = requests.get(sandbox.api_url("/Organisation"), headers={k: v for k, v in merged.items() if v},
                        timeout=5)
    assert resp.status_code == status
    assert "Organisations" not in resp.json()


def test_seeded_invoices_carry_their_day_rate() -> None:
    with start_xero_emulator(seed=7, customers=20, invoices=200) as sandbox:
        session = sandbox.user_session()
        invoices = session.get(sandbox.api_url("/Invoices")).json()["Invoices"]
        session.close()
    by_currency: dict[str, list[dict[str, Any]]] = {}
    for inv in invoices:
        by_currency.setdefault(inv["CurrencyCode"], []).append(inv)
    assert set(by_currency) - {"GBP"}, "the seeded organisation should hold foreign-currency invoices"
    assert all(Decimal(str(i["CurrencyRate"])) == 1 for i in by_currency.get("GBP", []))
    for code, items in by_currency.items():
        if code == "GBP":
            continue
        for inv in items:
            issued = date.fromisoformat(inv["DateString"][:10])
            # Xero's direction: units of the invoice currency per 1 unit of the base currency.
            assert Decimal(str(inv["CurrencyRate"])) == day_rate("GBP", code, issued) != 1


def _new_invoice(sandbox: XeroSandbox, **extra: Any) -> dict[str, Any]:
    contact = next(iter(sandbox.store.contacts.values())).id
    return {"Type": "ACCREC", "Contact": {"ContactID": contact}, "Date": "2026-11-03", "Status": "AUTHORISED",
            "LineItems": [{"Description": "work", "Quantity": 1, "UnitAmount": 100}], **extra}


def test_new_invoice_rates(sandbox: XeroSandbox, api: requests.Session) -> None:
    made = api.put(sandbox.api_url("/Invoices"), json={"Invoices": [
        _new_invoice(sandbox, CurrencyCode="USD"),
        _new_invoice(sandbox, CurrencyCode="EUR", CurrencyRate=1.1234567),
        _new_invoice(sandbox, CurrencyCode="GBP", CurrencyRate=2)]})
    assert made.status_code == 200, made.text
    rates = [Decimal(str(i["CurrencyRate"])) for i in made.json()["Invoices"]]
    # No rate sent: the day rate of the invoice date. A rate sent: kept (six places). Base currency: 1.
    assert rates == [day_rate("GBP", "USD", date(2026, 11, 3)), Decimal("1.123457"), Decimal("1")]


@pytest.mark.parametrize("rate", [0, -1.2, "abc"])
def test_a_rate_that_is_not_positive_is_rejected(sandbox: XeroSandbox, api: requests.Session, rate: Any) -> None:
    before = len(sandbox.store.invoices)
    resp = api.put(sandbox.api_url("/Invoices"), json=_new_invoice(sandbox, CurrencyCode="USD", CurrencyRate=rate))
    assert resp.status_code == 400, resp.text
    assert resp.json()["Type"] == "ValidationException"
    assert len(sandbox.store.invoices) == before
