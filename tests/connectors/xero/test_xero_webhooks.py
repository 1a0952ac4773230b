"""Webhooks end to end: the emulator signs and delivers, the connector verifies and parses."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from addon.domain.types import ChangeOperation, EntityKind, Platform
from connectors.xero import XeroConnector
from connectors.xero.emulator.testing import start_xero_emulator
from connectors.xero.webhooks import signature

KEY = "test-webhook-key"


def test_itr_vectors_from_the_spec(webhook_vectors: dict[str, Any]) -> None:
    itr = webhook_vectors["xero_itr"]
    body, key = itr["raw_body"].encode(), itr["webhook_key_used_as_utf8_bytes"]
    assert XeroConnector.verify_webhook(body, itr["valid_signature_expect_200"], key)
    assert not XeroConnector.verify_webhook(body, itr["invalid_signature_seen_from_xero_expect_401"], key)
    assert not XeroConnector.verify_webhook(body, None, key)
    assert not XeroConnector.verify_webhook(body + b"\n", itr["valid_signature_expect_200"], key)
    assert XeroConnector.parse_webhook(body) == []


def test_parse_sample_payload(webhook_vectors: dict[str, Any]) -> None:
    payload = webhook_vectors["xero_invoice_event_example"]["payload"]
    [event] = XeroConnector.parse_webhook(json.dumps(payload).encode())
    assert event.platform is Platform.XERO
    assert event.kind is EntityKind.CONTACT
    assert event.entity_id == "717f2bfc-c6d4-41fd-b238-3f2f0c0cf777"
    assert event.operation is ChangeOperation.UPDATE
    assert event.tenant_remote_id == "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f"
    assert event.occurred_at == datetime(2024, 6, 21, 1, 15, 39, 902000, tzinfo=UTC)


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"events": {}}',
                                  b'{"events": [{"eventCategory": "INVOICE"}]}'])
def test_parse_rejects_malformed(body: bytes) -> None:
    with pytest.raises(ValueError, match="malformed"):
        XeroConnector.parse_webhook(body)


def test_emulator_delivers_signed_batches_after_itr(receiver: Any) -> None:
    with start_xero_emulator(customers=4, invoices=40, webhook_url=receiver.url, webhook_key=KEY) as sb:
        http = sb.user_session()
        inv = next(i for i in sb.store.invoices.values() if i.status == "AUTHORISED")
        resp = http.put(sb.api_url("/Payments"), json={"Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "090"},
                                                       "Date": "2026-11-02", "Amount": 1})
        assert resp.status_code == 200
        assert sb.state.hub.drain(5)
        assert sb.state.hub.status == "OK"
        assert receiver.rejected == 1
        [event] = receiver.events()
        assert (event["eventCategory"], event["eventType"], event["resourceId"]) == ("INVOICE", "UPDATE", inv.id)
        assert event["resourceUrl"] == sb.api_url(f"/Invoices/{inv.id}")
        parsed = XeroConnector.parse_webhook(receiver.bodies[0])
        assert parsed[0].kind is EntityKind.INVOICE
        assert parsed[0].tenant_remote_id == sb.tenant_id
        # The event's resourceUrl is fetchable and shows the change.
        assert http.get(event["resourceUrl"]).json()["Invoices"][0]["AmountPaid"] == float(inv.amount_paid)


def test_credit_note_and_contact_events(receiver: Any) -> None:
    with start_xero_emulator(customers=3, invoices=12, webhook_url=receiver.url, webhook_key=KEY) as sb:
        contact = sb.store.create_contact("New Customer Ltd", "ap@new.example")
        note = sb.store.create_credit_note(contact.id, date(2026, 11, 2), Decimal("5.00"))
        sb.state.hub.flush(sb.url + "/api.xro/2.0")
        assert sb.state.hub.drain(5)
        cats = [(e["eventCategory"], e["eventType"]) for e in receiver.events()]
        assert cats == [("CONTACT", "CREATE"), ("CREDITNOTE", "CREATE")]
        assert receiver.events()[1]["data"] == {"Type": "ACCRECCREDIT", "Status": "AUTHORISED"}
        batch = json.loads(receiver.bodies[0])
        assert (batch["firstEventSequence"], batch["lastEventSequence"]) == (1, 2)
        assert batch["entropy"]
        assert receiver.events()[1]["resourceId"] == note.id


def test_failed_delivery_is_retried(receiver: Any) -> None:
    receiver.fail_next = 2
    with start_xero_emulator(customers=3, invoices=12, webhook_url=receiver.url, webhook_key=KEY) as sb:
        sb.store.create_contact("Retry Me Ltd")
        sb.state.hub.flush(sb.url + "/api.xro/2.0")
        assert sb.state.hub.drain(5)  # the success is recorded after the receiver answered
        assert len(receiver.bodies) == 1
        statuses = [a.status for a in sb.state.hub.sender.attempts]
        assert statuses == [200, 401, 503, 503, 200]  # ITR good + bad probe, then two failures and a success


def test_receiver_that_fails_itr_gets_nothing(receiver: Any) -> None:
    with start_xero_emulator(customers=3, invoices=12, webhook_url=receiver.url, webhook_key="another-key") as sb:
        sb.store.create_contact("Nobody Hears Ltd")
        sb.state.hub.flush(sb.url + "/api.xro/2.0")
        assert sb.state.hub.drain(5)
        assert sb.state.hub.status == "FAILED"
        assert receiver.bodies == []


def test_signature_helper_matches_emulator() -> None:
    from connectors.xero.emulator.hooks import sign

    assert signature(b"{}", "k") == sign("k", b"{}")
