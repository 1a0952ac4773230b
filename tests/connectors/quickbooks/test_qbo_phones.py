"""Customer phones from the emulator: Mobile.FreeFormNumber first, then PrimaryPhone.FreeFormNumber."""

from __future__ import annotations

from addon.domain.phones import to_e164
from connectors.quickbooks.emulator.testing import QboSandbox, make_connector
from connectors.tokens import InMemoryTokenStore


def test_seeded_customers_carry_phones(sandbox: QboSandbox, token_store: InMemoryTokenStore) -> None:
    contacts = {c.remote_id: c for c in make_connector(sandbox, token_store).list_contacts()}
    assert any(c.mobile for c in contacts.values())
    for raw in sandbox.store.entities["Customer"].values():
        wanted = (raw.get("Mobile") or raw.get("PrimaryPhone") or {}).get("FreeFormNumber")
        assert contacts[raw["Id"]].mobile == wanted
        if wanted:
            assert to_e164(wanted, sandbox.store.country) is not None  # national format of the company's country


def test_mobile_preferred_over_primary_phone(sandbox: QboSandbox, token_store: InMemoryTokenStore) -> None:
    connector = make_connector(sandbox, token_store)
    raw = next(iter(sandbox.store.entities["Customer"].values()))
    raw["PrimaryPhone"] = {"FreeFormNumber": "020 7946 0123"}
    raw["Mobile"] = {"FreeFormNumber": "07911 123456"}
    assert connector.get_contact(raw["Id"]).mobile == "07911 123456"
    raw["Mobile"] = {"FreeFormNumber": "  "}
    assert connector.get_contact(raw["Id"]).mobile == "020 7946 0123"
    raw.pop("Mobile"), raw.pop("PrimaryPhone")
    assert connector.get_contact(raw["Id"]).mobile is None
