"""The sandbox generator's customer addresses: from their own random stream (nothing else generated changes),
mostly in the customer's timezone's country, some abroad, some missing; the country as free text."""

from __future__ import annotations

import dataclasses

import pytest

from connectors.countries import country_code
from connectors.sandbox import generator
from connectors.sandbox.generator import generate_company, sandbox_address


def test_addresses_leave_every_other_generated_value_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    with_addresses = generate_company(7, customers=60, invoices=300)
    monkeypatch.setattr(generator, "sandbox_address", lambda name, timezone: None)
    without = generate_company(7, customers=60, invoices=300)
    assert [dataclasses.replace(c, address=None) for c in with_addresses.customers] == without.customers
    assert with_addresses.invoices == without.invoices


def test_most_customers_have_an_address_in_their_timezone_s_country_some_abroad() -> None:
    customers = generate_company(7, customers=300, invoices=300).customers
    home = {"Europe/London": "GB", "Europe/Amsterdam": "NL", "America/New_York": "US", "Australia/Sydney": "AU"}
    addressed = [c for c in customers if c.address is not None]
    assert 0.8 < len(addressed) / len(customers) < 0.97
    abroad = [c for c in addressed if c.address and c.address.country_code != home[c.timezone]]
    assert abroad
    assert all(c.address and c.address.country_code in ("DE", "IE") for c in abroad)
    assert len(abroad) < len(addressed) / 4
    for c in addressed:
        assert c.address is not None
        assert country_code(c.address.country) == c.address.country_code  # free text that still means it
    assert len({c.address.country for c in addressed if c.address}) > 8  # names, codes, local names


def test_the_same_customer_always_gets_the_same_address() -> None:
    assert sandbox_address("Acme Ltd", "Europe/London") == sandbox_address("Acme Ltd", "Europe/London")
