"""Webhooks: signature vectors, both payload formats, and the emulator's signed, batched deliveries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request

from addon.domain.types import Allocation, ChangeOperation, EntityKind, NewPayment, Platform
from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.emulator.testing import authorize, make_connector, start_qbo_emulator
from connectors.quickbooks.emulator.webhooks import sign
from connectors.sandbox.server import RunningServer, serve_in_thread
from connectors.tokens import InMemoryTokenStore

TOKEN = "verifier-token-123"


class Receiver:
    """A webhook endpoint that records deliveries and can fail the first ``fail`` of them."""

    def __init__(self, fail: int = 0) -> None:
        self.deliveries: list[tuple[bytes, str | None]] = []
        self.attempts = 0
        self.fail = fail
        self.lock = threading.Lock()
        self.app = Flask("receiver")
        self.app.add_url_rule("/hook", "hook", self.hook, methods=["POST"])

    def hook(self) -> tuple[str, int]:
        with self.lock:
            self.attempts += 1
            if self.attempts <= self.fail:
                return "", 500
            self.deliveries.append((request.get_data(), request.headers.get("intuit-signature")))
        return "", 200


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, RunningServer]]:
    hook = Receiver(fail=1)
    with serve_in_thread(hook.app) as server:
        yield hook, server


def test_signature_vector_from_python_quickbooks(specs: Path) -> None:
    vector = json.loads((specs / "webhook-test-vectors.json").read_text())["qbo_intuit_signature"]
    body = vector["raw_body"].encode()
    assert QuickBooksConnector.verify_webhook(body, vector["intuit-signature"], vector["verifier_token"])
    assert sign(body, vector["verifier_token"]) == vector["intuit-signature"]
    assert not QuickBooksConnector.verify_webhook(body + b" ", vector["intuit-signature"], vector["verifier_token"])
    assert not QuickBooksConnector.verify_webhook(body, vector["intuit-signature"], "other-token")
    assert not QuickBooksConnector.verify_webhook(body, None, vector["verifier_token"])


def test_spec_sample_payloads_parse_and_skip_entities_we_do_not_follow(specs: Path) -> None:
    vectors = json.loads((specs / "webhook-test-vectors.json").read_text())
    for name in ("qbo_legacy_payload", "qbo_cloudevents_payload"):  # both are about an Account
        assert QuickBooksConnector.parse_webhook(json.dumps(vectors[name]["payload"]).encode()) == []


def test_legacy_and_cloudevents_payloads_parse_to_the_same_events() -> None:
    legacy = {"eventNotifications": [{"realmId": "310687", "dataChangeEvent": {"entities": [
        {"name": "Invoice", "id": "12", "operation": "Update", "lastUpdated": "2026-11-02T10:00:00.000Z"},
        {"name": "CreditMemo", "id": "13", "operation": "Void", "lastUpdated": "2026-11-02T10:00:01.000Z"},
        {"name": "Bill", "id": "99", "operation": "Create", "lastUpdated": "2026-11-02T10:00:02.000Z"}]}}]}
    cloud = [{"specversion": "1.0", "id": "a", "source": "intuit.x", "type": "qbo.invoice.updated.v1",
              "datacontenttype": "application/json", "time": "2026-11-02T10:00:00.000000000Z",
              "intuitentityid": "12", "intuitaccountid": "310687", "data": {}},
             {"specversion": "1.0", "id": "b", "source": "intuit.x", "type": "qbo.creditmemo.voided.v1",
              "datacontenttype": "application/json", "time": "2026-11-02T10:00:01.123456789Z",
              "intuitentityid": "13", "intuitaccountid": "310687", "data": {}}]
    from_legacy = QuickBooksConnector.parse_webhook(json.dumps(legacy).encode())
    from_cloud = QuickBooksConnector.parse_webhook(json.dumps(cloud).encode())
    simple = [(e.platform, e.tenant_remote_id, e.kind, e.entity_id, e.operation) for e in from_legacy]
    assert simple == [(Platform.QBO, "310687", EntityKind.INVOICE, "12", ChangeOperation.UPDATE),
                      (Platform.QBO, "310687", EntityKind.CREDIT_NOTE, "13", ChangeOperation.VOID)]
    assert [(e.platform, e.tenant_remote_id, e.kind, e.entity_id, e.operation) for e in from_cloud] == simple
    assert from_cloud[1].occurred_at is not None
    assert from_cloud[1].occurred_at.microsecond == 123456


def test_operations_we_do_not_name_still_announce_a_change() -> None:
    # QBO also sends "Emailed" (Invoice, Payment, CreditMemo...), which Finance.xsd does not list; refusing
    # the delivery would lose its other events and make QBO hold back later ones until it is acknowledged.
    legacy = {"eventNotifications": [{"realmId": "310687", "dataChangeEvent": {"entities": [
        {"name": "Invoice", "id": "12", "operation": "Emailed", "lastUpdated": "2026-11-02T10:00:00.000Z"},
        {"name": "Payment", "id": "14", "operation": "Create", "lastUpdated": "2026-11-02T10:00:01.000Z"}]}}]}
    cloud = [{"specversion": "1.0", "id": "a", "source": "intuit.x", "type": "qbo.invoice.emailed.v1",
              "datacontenttype": "application/json", "time": "2026-11-02T10:00:00Z",
              "intuitentityid": "12", "intuitaccountid": "310687", "data": {}}]
    from_legacy = QuickBooksConnector.parse_webhook(json.dumps(legacy).encode())
    assert [(e.kind, e.entity_id, e.operation) for e in from_legacy] == [
        (EntityKind.INVOICE, "12", ChangeOperation.UPDATE), (EntityKind.PAYMENT, "14", ChangeOperation.CREATE)]
    from_cloud = QuickBooksConnector.parse_webhook(json.dumps(cloud).encode())
    assert [(e.kind, e.entity_id, e.operation) for e in from_cloud] == [
        (EntityKind.INVOICE, "12", ChangeOperation.UPDATE)]


@pytest.mark.parametrize("body", [b"not json", b'{"events": []}', b'[{"type": "other"}]',
                                  b'{"eventNotifications": [{}]}'])
def test_malformed_payloads_raise_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        QuickBooksConnector.parse_webhook(body)


def _pay(connector: QuickBooksConnector, invoice: dict[str, Any], key: str) -> None:
    connector.create_payment(NewPayment(invoice["CustomerRef"]["value"], date(2026, 11, 2), "GBP",
                                        (Allocation(invoice["Id"], Decimal("1.00")),)), idempotency_key=key)


@pytest.mark.parametrize("payload_format", ["legacy", "cloudevents"])
def test_emulator_sends_signed_batched_webhooks_and_retries(payload_format: str,
                                                           receiver: tuple[Receiver, RunningServer]) -> None:
    hook, server = receiver
    with start_qbo_emulator(customers=6, invoices=60, webhook_url=f"{server.url}/hook", verifier_token=TOKEN,
                            webhook_format=payload_format, webhook_time_scale=0.001,
                            webhook_batch_seconds=30) as sb:  # the window outlasts the test: drain sends it
        connector = make_connector(sb, InMemoryTokenStore(authorize(sb)))
        invoice = next(i for i in sb.store.all("Invoice") if i["Balance"] > 1)
        _pay(connector, invoice, "w1")
        connector.add_invoice_note(invoice["Id"], "thanks", idempotency_key="w2")
        assert sb.drain_webhooks(timeout=10)
    assert hook.attempts == 2  # the first delivery got a 500 and was retried
    assert len(hook.deliveries) == 1  # everything from the batch window arrived as one POST
    body, signature = hook.deliveries[0]
    assert QuickBooksConnector.verify_webhook(body, signature, TOKEN)
    assert isinstance(json.loads(body), list) is (payload_format == "cloudevents")
    events = {(e.kind, e.operation) for e in QuickBooksConnector.parse_webhook(body)}
    assert events == {(EntityKind.PAYMENT, ChangeOperation.CREATE), (EntityKind.INVOICE, ChangeOperation.UPDATE)}
    assert {e.tenant_remote_id for e in QuickBooksConnector.parse_webhook(body)} == {sb.realm_id}


def test_void_through_the_api_fires_a_void_event(receiver: tuple[Receiver, RunningServer]) -> None:
    hook, server = receiver
    hook.fail = 0
    with start_qbo_emulator(customers=6, invoices=60, webhook_url=f"{server.url}/hook", verifier_token=TOKEN,
                            webhook_format="legacy") as sb:
        invoice = next(i for i in sb.store.all("Invoice") if i["Balance"] > 0 and not i["LinkedTxn"])
        answer = sb.user_api().post("invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]},
                                    operation="void")
        assert answer.status_code == 200
        assert sb.drain_webhooks(timeout=10)
    entity = json.loads(hook.deliveries[0][0])["eventNotifications"][0]["dataChangeEvent"]["entities"][0]
    assert (entity["name"], entity["id"], entity["operation"]) == ("Invoice", invoice["Id"], "Void")
