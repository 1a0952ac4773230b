"""Contact addresses through the official SDK from the emulator: the country of the POBOX (postal) address,
else the STREET one, read from free text into ISO 3166."""

from __future__ import annotations

from connectors.xero import XeroConnector
from connectors.xero.emulator.testing import XeroSandbox
from connectors.xero.mapping import contact_country

# Every way the generator writes a country, and what it means.
SPELLINGS = {"United Kingdom": "GB", "UK": "GB", "GB": "GB", "England": "GB", "Netherlands": "NL", "Nederland": "NL",
             "NL": "NL", "United States": "US", "USA": "US", "US": "US", "Australia": "AU", "AU": "AU",
             "Germany": "DE", "Deutschland": "DE", "DE": "DE", "Ireland": "IE", "IE": "IE"}


def _address(kind: str, country: str) -> dict[str, str]:
    return {"AddressType": kind, "City": "", "Region": "", "PostalCode": "", "Country": country}


def test_seeded_contacts_carry_addresses_and_their_country(connector: XeroConnector, sandbox: XeroSandbox) -> None:
    contacts = {c.remote_id: c for c in connector.list_contacts()}
    assert any(c.country for c in contacts.values()), "the generator gives most customers an address"
    for rec in sandbox.store.contacts.values():
        assert [a["AddressType"] for a in rec.addresses] == ["STREET", "POBOX"]  # both types, as Xero lists them
        typed = rec.addresses[1]["Country"]  # free text: "United Kingdom", "UK", "Nederland", ...
        assert contacts[rec.id].country == (SPELLINGS[typed] if typed else None)


def test_postal_address_preferred_then_street(connector: XeroConnector, sandbox: XeroSandbox) -> None:
    rec = next(iter(sandbox.store.contacts.values()))
    rec.addresses = [_address("STREET", "France"), _address("POBOX", "Deutschland")]
    assert connector.get_contact(rec.id).country == "DE"
    rec.addresses = [_address("STREET", "France"), _address("POBOX", "")]
    assert connector.get_contact(rec.id).country == "FR"
    rec.addresses = [_address("STREET", "Atlantis"), _address("POBOX", "n/a")]
    assert connector.get_contact(rec.id).country is None  # unreadable: unknown, never an error
    rec.addresses = []
    assert connector.get_contact(rec.id).country is None


def test_contact_country_without_addresses() -> None:
    assert contact_country(None) is None
    assert contact_country([]) is None
