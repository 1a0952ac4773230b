"""Customer addresses from the emulator: BillAddr.Country (free text), else ShipAddr.Country, as ISO 3166;
CountrySubDivisionCode is a state or province, never read as a country."""

from __future__ import annotations

from connectors.countries import country_code
from connectors.quickbooks.emulator.testing import QboSandbox, make_connector
from connectors.quickbooks.mapping import customer_country
from connectors.tokens import InMemoryTokenStore


def test_seeded_customers_carry_billing_addresses(sandbox: QboSandbox, token_store: InMemoryTokenStore) -> None:
    contacts = {c.remote_id: c for c in make_connector(sandbox, token_store).list_contacts()}
    assert any(c.country for c in contacts.values()), "the generator gives most customers an address"
    for raw in sandbox.store.entities["Customer"].values():
        typed = (raw.get("BillAddr") or {}).get("Country")
        assert contacts[raw["Id"]].country == (country_code(typed) if typed else None)
        if typed:
            assert contacts[raw["Id"]].country in {"GB", "NL", "US", "AU", "DE", "IE"}


def test_billing_address_preferred_then_shipping(sandbox: QboSandbox, token_store: InMemoryTokenStore) -> None:
    connector = make_connector(sandbox, token_store)
    raw = next(iter(sandbox.store.entities["Customer"].values()))
    raw["BillAddr"] = {"City": "Toronto", "CountrySubDivisionCode": "ON", "Country": "Canada"}
    raw["ShipAddr"] = {"City": "Paris", "Country": "France"}
    assert connector.get_contact(raw["Id"]).country == "CA"
    raw["BillAddr"] = {"City": "San Francisco", "CountrySubDivisionCode": "CA"}  # California, not Canada
    assert connector.get_contact(raw["Id"]).country == "FR"
    raw.pop("ShipAddr")
    assert connector.get_contact(raw["Id"]).country is None  # a domestic address without a country: unknown
    raw["BillAddr"] = {"Country": "Narnia"}
    assert connector.get_contact(raw["Id"]).country is None  # junk: unknown, never an error


def test_customer_country_without_addresses() -> None:
    assert customer_country({}) is None
    assert customer_country({"BillAddr": None, "ShipAddr": {"Country": "  "}}) is None
