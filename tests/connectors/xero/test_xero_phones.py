"""Contact phones through the official SDK from the emulator: MOBILE first, then DEFAULT."""

from __future__ import annotations

from addon.domain.phones import to_e164
from connectors.xero import XeroConnector
from connectors.xero.emulator.testing import XeroSandbox
from connectors.xero.mapping import contact_phone


def _phone(kind: str, cc: str, area: str, number: str) -> dict[str, str]:
    return {"PhoneType": kind, "PhoneCountryCode": cc, "PhoneAreaCode": area, "PhoneNumber": number}


def test_seeded_contacts_carry_realistic_phones(connector: XeroConnector, sandbox: XeroSandbox) -> None:
    contacts = {c.remote_id: c for c in connector.list_contacts()}
    with_phone = [c for c in contacts.values() if c.mobile]
    assert with_phone, "the generator gives most customers a phone"
    for rec in sandbox.store.contacts.values():
        typed = {p["PhoneType"]: p for p in rec.phones if p["PhoneNumber"]}
        wanted = typed.get("MOBILE") or typed.get("DEFAULT")
        mobile = contacts[rec.id].mobile
        if wanted is None:
            assert mobile is None
        else:
            cc, area, number = wanted["PhoneCountryCode"], wanted["PhoneAreaCode"], wanted["PhoneNumber"]
            assert mobile == f"+{cc} {area} {number}"
            assert to_e164(mobile, None) == f"+{cc}{area}{number}"


def test_mobile_preferred_over_default(connector: XeroConnector, sandbox: XeroSandbox) -> None:
    rec = next(iter(sandbox.store.contacts.values()))
    rec.phones = [_phone("DEFAULT", "44", "20", "79460123"), _phone("FAX", "44", "20", "79460999"),
                  _phone("MOBILE", "44", "7911", "123456")]
    assert connector.get_contact(rec.id).mobile == "+44 7911 123456"
    rec.phones = [_phone("MOBILE", "", "", ""), _phone("DEFAULT", "", "020", "7946 0123"),
                  _phone("DDI", "44", "20", "79460555")]
    assert connector.get_contact(rec.id).mobile == "020 7946 0123"  # no country code: the tenant's country
    rec.phones = [_phone("FAX", "44", "20", "79460999"), _phone("DDI", "44", "20", "79460555")]
    assert connector.get_contact(rec.id).mobile is None  # a fax or a direct line is not texted


def test_contact_phone_skips_blank_entries() -> None:
    assert contact_phone(None) is None
    assert contact_phone([]) is None
