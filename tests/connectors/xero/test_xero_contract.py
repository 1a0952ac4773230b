"""Contract: every response body the emulator produces validates against Xero's own OpenAPI specs.

The 900 KB accounting spec is parsed once per session; the spec itself is not validated (it does not
pass a strict check, see specs/README.md) but responses are validated against it normally.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_schema_validator import OAS30Validator

from connectors.xero.emulator.clock import stable_id
from connectors.xero.emulator.testing import XeroSandbox, authorize, start_xero_emulator


@pytest.fixture(scope="module")
def org() -> Iterator[XeroSandbox]:
    with start_xero_emulator(seed=7, customers=6, invoices=80) as sb:  # this size has seeded credit notes
        yield sb


@pytest.fixture(scope="module")
def openapi(accounting_spec_dict: dict[str, Any]) -> OpenAPI:
    spec = copy.copy(accounting_spec_dict)
    spec["servers"] = [{"url": "http://127.0.0.1:{port}/api.xro/2.0", "variables": {"port": {"default": "4010"}}}]
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


@pytest.fixture(scope="module")
def http(org: XeroSandbox) -> Iterator[requests.Session]:
    session = org.user_session()
    yield session
    session.close()


def check(openapi: OpenAPI, resp: requests.Response, status: int = 200) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    # requests' PreparedRequest carries the JSON body as bytes; openapi-core reads it from there.
    openapi.validate_response(RequestsOpenAPIRequest(resp.request), RequestsOpenAPIResponse(resp))
    return resp.json()  # type: ignore[no-any-return]


def first(store_values: Any, **attrs: Any) -> Any:
    return next(v for v in store_values if all(getattr(v, k) == want for k, want in attrs.items()))


def test_read_endpoints(openapi: OpenAPI, org: XeroSandbox, http: requests.Session) -> None:
    inv = first(org.store.invoices.values(), status="PAID")
    note = next(iter(org.store.credit_notes.values()))
    payment = next(iter(org.store.payments.values()))
    urls = [
        "/Invoices", "/Invoices?page=1&pageSize=10", '/Invoices?where=Status=="PAID"&Statuses=PAID,AUTHORISED',
        f"/Invoices/{inv.id}", f"/Invoices/{inv.id}/History", "/Contacts", "/Contacts?page=1",
        f"/Contacts/{inv.contact_id}", "/Payments", "/Payments?page=1", f"/Payments/{payment.id}", "/CreditNotes",
        "/CreditNotes?page=1", f"/CreditNotes/{note.id}", "/BankTransactions", "/Accounts", "/Overpayments",
        "/Currencies", "/Organisation",
    ]
    for url in urls:
        body = check(openapi, http.get(org.api_url(url)))
        assert body["Status"] == "OK"


def test_validator_catches_a_wrong_body(openapi: OpenAPI, org: XeroSandbox, http: requests.Session) -> None:
    resp = http.get(org.api_url("/Invoices?page=1&pageSize=2"))
    body = resp.json()
    body["Invoices"][0]["Status"] = "SETTLED"  # not in the spec's enum
    resp._content = json.dumps(body).encode()
    with pytest.raises(Exception, match="'SETTLED' is not one of"):
        openapi.validate_response(RequestsOpenAPIRequest(resp.request), RequestsOpenAPIResponse(resp))


def test_write_endpoints(openapi: OpenAPI, org: XeroSandbox, http: requests.Session) -> None:
    inv = first(org.store.invoices.values(), status="AUTHORISED")
    contact = inv.contact_id
    pay = {"Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "090"}, "Date": "2026-11-02", "Amount": 1}
    made = check(openapi, http.put(org.api_url("/Payments"), json={"Payments": [pay]}))
    check(openapi, http.put(org.api_url("/Payments"), json=pay, headers={"Idempotency-Key": "contract-1"}))
    check(openapi, http.post(org.api_url(f"/Payments/{made['Payments'][0]['PaymentID']}"),
                             json={"Status": "DELETED"}))
    paid = first(org.store.invoices.values(), status="PAID")
    mixed = {"Payments": [pay, {**pay, "Invoice": {"InvoiceID": paid.id}}]}
    check(openapi, http.put(org.api_url("/Payments?summarizeErrors=false"), json=mixed))
    check(openapi, http.put(org.api_url(f"/Invoices/{inv.id}/History"),
                            json={"HistoryRecords": [{"Details": "Reminder sent"}]}))
    note = check(openapi, http.put(org.api_url("/CreditNotes"), json={"CreditNotes": [{
        "Type": "ACCRECCREDIT", "Contact": {"ContactID": contact}, "Date": "2026-11-02", "Status": "AUTHORISED",
        "LineItems": [{"Description": "pricing", "Quantity": 1, "UnitAmount": 2}]}]}))
    note_id = note["CreditNotes"][0]["CreditNoteID"]
    check(openapi, http.put(org.api_url(f"/CreditNotes/{note_id}/Allocations"), json={"Allocations": [
        {"Invoice": {"InvoiceID": inv.id}, "Amount": 2, "Date": "2026-11-02"}]}))
    check(openapi, http.put(org.api_url("/BankTransactions"), json={"BankTransactions": [{
        "Type": "RECEIVE", "Contact": {"ContactID": contact}, "Date": "2026-11-03", "BankAccount": {"Code": "090"},
        "LineItems": [{"Description": "receipt", "Quantity": 1, "UnitAmount": 3, "AccountCode": "200"}]}]}))
    check(openapi, http.put(org.api_url("/Invoices"), json={"Invoices": [{
        "Type": "ACCREC", "Contact": {"ContactID": contact}, "Date": "2026-11-03", "DueDate": "2026-12-03",
        "Status": "AUTHORISED", "LineItems": [{"Description": "work", "Quantity": 2, "UnitAmount": 50}]}]}))
    check(openapi, http.post(org.api_url("/Contacts"), json={"Contacts": [{"Name": "Contract Test Ltd"}]}))
    new_invoice = {"Type": "ACCREC", "Contact": {"ContactID": contact}, "Date": "2026-11-03",
                   "LineItems": [{"Description": "work", "Quantity": 1, "UnitAmount": 5}]}
    mixed_invoices = {"Invoices": [new_invoice, {**new_invoice, "Status": "PAID"}]}
    check(openapi, http.put(org.api_url("/Invoices?summarizeErrors=false"), json=mixed_invoices))


def test_overpayment_and_spend_money_bodies(openapi: OpenAPI, org: XeroSandbox, http: requests.Session) -> None:
    contact = next(iter(org.store.contacts.values())).id
    made = check(openapi, http.put(org.api_url("/BankTransactions"), json={"BankTransactions": [{
        "Type": "RECEIVE-OVERPAYMENT", "Contact": {"ContactID": contact}, "Date": "2026-11-03",
        "BankAccount": {"Code": "090"}, "LineItems": [{"Description": "overpaid", "LineAmount": 12}]}]}))
    overpayment_id = made["BankTransactions"][0]["OverpaymentID"]
    check(openapi, http.get(org.api_url(f"/Overpayments/{overpayment_id}")))
    check(openapi, http.get(org.api_url("/Overpayments?page=1")))
    check(openapi, http.put(org.api_url("/BankTransactions"), json={"BankTransactions": [{
        "Type": "SPEND", "Contact": {"ContactID": contact}, "Date": "2026-11-03", "BankAccount": {"Code": "090"},
        "LineItems": [{"Description": "fee", "Quantity": 1, "UnitAmount": 2.5, "AccountCode": "404"}]}]}))


def test_batch_payment_bodies(openapi: OpenAPI, org: XeroSandbox, http: requests.Session) -> None:
    base = org.store.base_currency
    invoices = [i for i in org.store.invoices.values()
                if i.status == "AUTHORISED" and i.currency == base and i.amount_due > 2][:2]
    account = stable_id(org.store.seed, "account", "090")
    body = {"BatchPayments": [{"Account": {"AccountID": account}, "Date": "2026-11-03", "Reference": "deposit",
                               "Payments": [{"Invoice": {"InvoiceID": i.id}, "Amount": 1} for i in invoices]}]}
    made = check(openapi, http.put(org.api_url("/BatchPayments"), json=body))["BatchPayments"][0]
    check(openapi, http.get(org.api_url(f"/BatchPayments/{made['BatchPaymentID']}")))
    check(openapi, http.get(org.api_url("/BatchPayments")))
    too_much = copy.deepcopy(body)
    too_much["BatchPayments"][0]["Payments"][0]["Amount"] = 10 ** 7
    check(openapi, http.put(org.api_url("/BatchPayments"), json=too_much), status=400)
    check(openapi, http.post(org.api_url(f"/BatchPayments/{made['BatchPaymentID']}"), json={"Status": "DELETED"}))


def test_validation_error_body(openapi: OpenAPI, org: XeroSandbox, http: requests.Session) -> None:
    inv = first(org.store.invoices.values(), status="PAID")
    pay = {"Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "090"}, "Date": "2026-11-02", "Amount": 1}
    body = check(openapi, http.put(org.api_url("/Payments"), json={"Payments": [pay]}), status=400)
    assert body["Type"] == "ValidationException"


def test_connections_match_identity_spec(org: XeroSandbox, specs_dir: Path) -> None:
    identity = yaml.safe_load((specs_dir / "xero" / "xero-identity.yaml").read_text())
    schema = {**identity["components"]["schemas"]["Connection"], "components": identity["components"]}
    tokens = authorize(org)
    items = requests.get(f"{org.url}/connections", headers={"Authorization": f"Bearer {tokens.access_token}"},
                         timeout=5).json()
    assert items
    for item in items:
        OAS30Validator(schema).validate(item)


def test_webhook_batches_match_webhooks_spec(receiver: Any, specs_dir: Path) -> None:
    spec = yaml.safe_load((specs_dir / "xero" / "xero-webhooks.yaml").read_text())
    with start_xero_emulator(customers=3, invoices=12, webhook_url=receiver.url, webhook_key="test-webhook-key") as sb:
        contact = sb.store.create_contact("Spec Check Ltd")
        sb.store.create_credit_note(contact.id, next(iter(sb.store.invoices.values())).date, Decimal("5.00"))
        sb.state.hub.flush(sb.api_url(""))
        assert sb.state.hub.drain(5)
    assert receiver.bodies
    for name in ("WebhookEvent", "CreditNoteWebhookEvent"):
        schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
        for body in receiver.bodies:
            payload = json.loads(body)
            if name == "CreditNoteWebhookEvent":
                payload = {**payload, "events": [e for e in payload["events"] if e["eventCategory"] == "CREDITNOTE"]}
            jsonschema.Draft202012Validator(schema).validate(payload)
