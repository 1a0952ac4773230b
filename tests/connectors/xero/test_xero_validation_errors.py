"""Xero's 400 ValidationException echoes each failing element of the request with its own ValidationErrors
(xero_accounting.yaml's 400 examples; Xero-Java#171 and Xero-NetStandard#156 quote real ones), on every
collection write path; the connector names each refused element in the ValidationError it raises."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import requests
from xero_python.accounting.models import Account, Invoice, Payment, Payments
from xero_python.exceptions import AccountingBadRequestException

from addon.domain.types import Allocation, NewPayment
from connectors.errors import ValidationError
from connectors.xero import XeroConnector
from connectors.xero.emulator.records import InvoiceRecord
from connectors.xero.emulator.testing import XeroSandbox
from connectors.xero.faults import _validation_messages

MISSING = "00000000-0000-0000-0000-000000000000"


def open_invoices(sandbox: XeroSandbox) -> list[InvoiceRecord]:
    return [i for i in sandbox.store.invoices.values() if i.status == "AUTHORISED" and i.amount_due > 10]


def new_invoice(contact_id: str, **extra: Any) -> dict[str, Any]:
    return {"Type": "ACCREC", "Contact": {"ContactID": contact_id}, "Date": "2026-11-03", "DueDate": "2026-12-03",
            "LineItems": [{"Description": "work", "Quantity": 1, "UnitAmount": 5}], **extra}


def refused(resp: requests.Response) -> list[dict[str, Any]]:
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert (body["ErrorNumber"], body["Type"], body["Message"]) == (
        10, "ValidationException", "A validation exception occurred")
    return list(body["Elements"])


def test_every_failing_invoice_is_echoed_with_its_own_errors(sandbox: XeroSandbox, api: requests.Session) -> None:
    contact = open_invoices(sandbox)[0].contact_id
    before = len(sandbox.store.invoices)
    resp = api.put(sandbox.api_url("/Invoices"), json={"Invoices": [
        new_invoice(contact, Reference="fine"),
        new_invoice(MISSING, Reference="no such contact"),
        new_invoice(contact, Reference="no lines", LineItems=[])]})
    first, second = refused(resp)
    # Only the failing elements, in request order, each with the fields that were sent.
    assert first["Reference"] == "no such contact"
    assert first["Contact"] == {"ContactID": MISSING}
    assert first["LineItems"] == [{"Description": "work", "Quantity": 1, "UnitAmount": 5}]
    assert first["HasErrors"] is True
    assert first["ValidationErrors"] == [{"Message": "The contact could not be found."}]
    assert second["Reference"] == "no lines"
    assert second["ValidationErrors"] == [{"Message": "Invoice must have at least one line item."}]
    assert len(sandbox.store.invoices) == before + 1  # the valid one is saved, as Xero does


def test_an_update_by_url_echoes_the_invoice_id(sandbox: XeroSandbox, api: requests.Session) -> None:
    inv = open_invoices(sandbox)[0]
    [element] = refused(api.post(sandbox.api_url(f"/Invoices/{inv.id}"), json={"DueDate": "2026-13-45"}))
    assert element["InvoiceID"] == inv.id
    assert element["DueDate"] == "2026-13-45"
    assert element["ValidationErrors"] == [{"Message": "The date '2026-13-45' is not a valid date."}]


def test_a_refused_payment_batch_echoes_each_payment(sandbox: XeroSandbox, api: requests.Session) -> None:
    a, b = open_invoices(sandbox)[:2]
    pays = [{"Invoice": {"InvoiceID": a.id}, "Account": {"Code": "090"}, "Date": "2026-11-02", "Amount": 1},
            {"Invoice": {"InvoiceID": b.id}, "Account": {"Code": "090"}, "Date": "2026-11-02",
             "Amount": str(b.amount_due + 1)}]
    [element] = refused(api.put(sandbox.api_url("/Payments"), json={"Payments": pays}))
    assert element["Invoice"]["InvoiceID"] == b.id
    assert Decimal(str(element["Amount"])) == b.amount_due + 1
    assert element["HasValidationErrors"] is True
    assert "exceeds the amount outstanding" in element["ValidationErrors"][0]["Message"]


def test_contacts_and_bank_transactions_echo_their_elements(sandbox: XeroSandbox, api: requests.Session) -> None:
    taken = next(iter(sandbox.store.contacts.values())).name
    [contact] = refused(api.put(sandbox.api_url("/Contacts"), json={"Contacts": [{"Name": taken}]}))
    assert contact["Name"] == taken
    assert contact["HasValidationErrors"] is True
    assert "already assigned to another contact" in contact["ValidationErrors"][0]["Message"]

    txn = {"Type": "SPEND", "Contact": {"ContactID": MISSING}, "BankAccount": {"Code": "090"},
           "Date": "2026-11-02", "Reference": "fee", "LineItems": [{"Description": "fee", "LineAmount": 2,
                                                                     "AccountCode": "404"}]}
    [echoed] = refused(api.put(sandbox.api_url("/BankTransactions"), json={"BankTransactions": [txn]}))
    assert echoed["Reference"] == "fee"
    assert "HasErrors" not in echoed  # a BankTransaction has no such flag in the spec
    assert echoed["ValidationErrors"] == [{"Message": "The contact could not be found."}]


def test_allocations_and_credit_notes_echo_their_elements(sandbox: XeroSandbox, api: requests.Session) -> None:
    inv = open_invoices(sandbox)[0]
    note = api.put(sandbox.api_url("/CreditNotes"), json={"CreditNotes": [{
        "Type": "ACCRECCREDIT", "Contact": {"ContactID": inv.contact_id}, "Date": "2026-11-02",
        "Status": "AUTHORISED", "CurrencyCode": inv.currency,
        "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 3}]}]}).json()["CreditNotes"][0]
    [alloc] = refused(api.put(sandbox.api_url(f"/CreditNotes/{note['CreditNoteID']}/Allocations"), json={
        "Allocations": [{"Invoice": {"InvoiceID": inv.id}, "Amount": 4, "Date": "2026-11-02"}]}))
    assert alloc["Invoice"] == {"InvoiceID": inv.id}
    assert alloc["CreditNoteID"] == note["CreditNoteID"]
    assert "exceeds the remaining credit" in alloc["ValidationErrors"][0]["Message"]

    [credit] = refused(api.put(sandbox.api_url("/CreditNotes"), json={"CreditNotes": [{
        "Type": "ACCRECCREDIT", "Contact": {"ContactID": inv.contact_id}, "Date": "2026-11-02",
        "CreditNoteNumber": "CN-BAD", "LineItems": []}]}))
    assert (credit["CreditNoteNumber"], credit["HasErrors"]) == ("CN-BAD", True)


def test_summarize_errors_false_echoes_the_failing_element(sandbox: XeroSandbox, api: requests.Session) -> None:
    resp = api.put(sandbox.api_url("/Invoices"), params={"summarizeErrors": "false"},
                   json={"Invoices": [new_invoice(MISSING, Reference="bad")]})
    assert resp.status_code == 200, resp.text
    [failed] = resp.json()["Invoices"]
    assert (failed["Reference"], failed["StatusAttributeString"], failed["HasErrors"]) == ("bad", "ERROR", True)


def test_the_sdk_reads_the_echoed_element(sandbox: XeroSandbox, connector: XeroConnector) -> None:
    """xero-python's AccountingBadRequestException takes its reason from Elements[0].ValidationErrors[0]."""
    inv = open_invoices(sandbox)[0]
    body = Payments(payments=[Payment(invoice=Invoice(invoice_id=inv.id), account=Account(code="090"),
                                      date=date(2026, 11, 2), amount=inv.amount_due + 1)])
    with pytest.raises(ValidationError) as err:
        connector._call(lambda: connector.api.create_payments(connector.tenant_remote_id, body))
    sdk_error = err.value.__cause__
    assert isinstance(sdk_error, AccountingBadRequestException)
    assert "exceeds the amount outstanding" in sdk_error.reason
    assert sdk_error.error_data["Elements"][0]["Invoice"]["InvoiceID"] == inv.id


def test_connector_reports_every_refused_payment(sandbox: XeroSandbox, connector: XeroConnector) -> None:
    # One batch payment: Xero gives each refused payment's message on the batch payment element.
    first = open_invoices(sandbox)[0]
    a, b = [i for i in open_invoices(sandbox) if i.contact_id == first.contact_id][:2]
    new = NewPayment(a.contact_id, date(2026, 11, 2), a.currency,
                     (Allocation(a.id, a.amount_due + 1), Allocation(b.id, b.amount_due + 2)))
    with pytest.raises(ValidationError) as err:
        connector.create_payment(new, idempotency_key="two-bad")
    assert len(err.value.errors) == 2
    assert all("exceeds the amount outstanding" in e for e in err.value.errors)
    assert str(err.value) == "; ".join(err.value.errors)


def test_connector_names_the_invoice_of_an_error_given_on_a_nested_payment() -> None:
    """Should Xero put a message on a payment inside a batch payment, it names the payment's invoice."""
    body = ('{"ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception occurred", '
            '"Elements": [{"ValidationErrors": [], "Payments": [{"Invoice": {"InvoiceID": "3f"}, '
            '"ValidationErrors": [{"Message": "Invoice not of valid status for modification"}]}]}]}')
    assert _validation_messages(body) == ["Invoice not of valid status for modification (invoice 3f)"]


def test_connector_keeps_line_item_errors() -> None:
    """Xero may put a message on a line item rather than the element: it is not lost."""
    body = ('{"ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception occurred", '
            '"Elements": [{"InvoiceNumber": "INV-9", "ValidationErrors": [], "LineItems": [{"ValidationErrors": '
            '[{"Message": "Account code \'999\' is not a valid code for this document."}]}]}]}')
    assert _validation_messages(body) == [
        "Account code '999' is not a valid code for this document. (invoice INV-9)"]
