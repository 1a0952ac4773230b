"""The emulator's write rules: a refused batch keeps its valid elements, as Xero does, finished invoices cannot
be edited, and only the organisation's currencies are accepted (each one a request real Xero refuses)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests

from connectors.xero.emulator.records import InvoiceRecord
from connectors.xero.emulator.testing import XeroSandbox

MISSING = "00000000-0000-0000-0000-000000000000"


def open_invoice(sandbox: XeroSandbox) -> InvoiceRecord:
    return next(i for i in sandbox.store.invoices.values() if i.status == "AUTHORISED" and i.amount_due > 10)


def new_invoice(contact_id: str, **extra: Any) -> dict[str, Any]:
    return {"Type": "ACCREC", "Contact": {"ContactID": contact_id}, "Date": "2026-11-03", "DueDate": "2026-12-03",
            "LineItems": [{"Description": "work", "Quantity": 1, "UnitAmount": 5}], **extra}


def first_error(resp: requests.Response) -> str:
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["Type"] == "ValidationException"
    return str(body["Elements"][0]["ValidationErrors"][0]["Message"])


# --- 1. a refused batch keeps its valid elements -------------------------------------------------------
# Xero saves the valid elements of a batch it answers with a 400 (summarizeErrors=true, the default): Stack
# Overflow 52706101 and Xero's answer there, Xero-Net#354 (docs/xero.md, Batches).


@pytest.mark.parametrize("bad", [
    {"Contact": {"ContactID": MISSING}}, {"LineItems": []}, {"Status": "PAID"}, {"DueDate": "2026-10-01"}],
    ids=["unknown-contact", "no-lines", "bad-status", "due-before-date"])
def test_invoice_batch_with_one_bad_element_saves_the_good_one(sandbox: XeroSandbox, api: requests.Session,
                                                               bad: dict[str, Any]) -> None:
    contact = open_invoice(sandbox).contact_id
    before = len(sandbox.store.invoices)
    resp = api.put(sandbox.api_url("/Invoices"), json={"Invoices": [
        new_invoice(contact, Reference="kept"), new_invoice(contact, **bad)]})
    first_error(resp)
    assert len(resp.json()["Elements"]) == 1  # the 400 lists only the refused element
    assert len(sandbox.store.invoices) == before + 1
    assert any(i.reference == "kept" for i in sandbox.store.invoices.values())


def test_invoice_batch_repeating_a_new_number_refuses_the_second(sandbox: XeroSandbox,
                                                                   api: requests.Session) -> None:
    contact = open_invoice(sandbox).contact_id
    before = len(sandbox.store.invoices)
    twice = [new_invoice(contact, InvoiceNumber="BATCH-1"), new_invoice(contact, InvoiceNumber="batch-1")]
    assert first_error(api.put(sandbox.api_url("/Invoices"), json={"Invoices": twice})) == "Invoice # must be unique."
    assert len(sandbox.store.invoices) == before + 1
    assert [i.number for i in sandbox.store.invoices.values()].count("BATCH-1") == 1


def test_invoice_update_batch_with_one_bad_element_keeps_the_good_edits(sandbox: XeroSandbox,
                                                                       api: requests.Session) -> None:
    inv = open_invoice(sandbox)
    draft = api.put(sandbox.api_url("/Invoices"), json=new_invoice(inv.contact_id)).json()["Invoices"][0]
    # The draft is approved, then deleted in the same batch: each change is judged against the state the
    # earlier ones leave (AUTHORISED -> DELETED is not allowed), so the last is refused and the others kept.
    resp = api.post(sandbox.api_url("/Invoices"), json={"Invoices": [
        {"InvoiceID": inv.id, "Reference": "changed"},
        {"InvoiceID": draft["InvoiceID"], "Status": "AUTHORISED"},
        {"InvoiceID": draft["InvoiceID"], "Status": "DELETED"}]})
    assert "not of valid status" in first_error(resp)
    assert inv.reference == "changed"
    assert sandbox.store.invoice(draft["InvoiceID"]).status == "AUTHORISED"


def test_invoice_batch_summarize_errors_false_keeps_the_good_ones(sandbox: XeroSandbox,
                                                                 api: requests.Session) -> None:
    contact = open_invoice(sandbox).contact_id
    before = len(sandbox.store.invoices)
    resp = api.put(sandbox.api_url("/Invoices"), params={"summarizeErrors": "false"}, json={"Invoices": [
        new_invoice(contact, Reference="good"), new_invoice(MISSING, Reference="bad")]})
    assert resp.status_code == 200, resp.text
    ok, failed = resp.json()["Invoices"]
    assert ok["StatusAttributeString"] == "OK"
    assert ok["Reference"] == "good"
    assert failed["StatusAttributeString"] == "ERROR"
    assert failed["HasErrors"] is True
    assert failed["ValidationErrors"] == [{"Message": "The contact could not be found."}]
    assert len(sandbox.store.invoices) == before + 1


def test_credit_note_batch_with_one_bad_element_saves_the_good_one(sandbox: XeroSandbox,
                                                                   api: requests.Session) -> None:
    contact = open_invoice(sandbox).contact_id
    good = {"Type": "ACCRECCREDIT", "Contact": {"ContactID": contact}, "Date": "2026-11-02",
            "LineItems": [{"Description": "pricing", "Quantity": 1, "UnitAmount": 5}]}
    before = len(sandbox.store.credit_notes)
    resp = api.put(sandbox.api_url("/CreditNotes"), json={"CreditNotes": [
        good, {**good, "LineItems": [{"Description": "nothing", "Quantity": 1, "UnitAmount": 0}]}]})
    assert first_error(resp) == "Credit note total must be greater than zero."
    assert len(sandbox.store.credit_notes) == before + 1


@pytest.mark.parametrize("bad", [{"Name": ""}, {"Name": "Batch Twin"}], ids=["no-name", "same-name-twice"])
def test_contact_batch_with_one_bad_element_saves_the_good_one(sandbox: XeroSandbox, api: requests.Session,
                                                               bad: dict[str, Any]) -> None:
    before = len(sandbox.store.contacts)
    resp = api.post(sandbox.api_url("/Contacts"), json={"Contacts": [{"Name": "Batch Twin"}, bad]})
    first_error(resp)
    assert [c.name for c in sandbox.store.contacts.values()].count("Batch Twin") == 1
    assert len(sandbox.store.contacts) == before + 1


def test_contact_batch_with_a_bad_update_saves_the_new_contact(sandbox: XeroSandbox,
                                                               api: requests.Session) -> None:
    existing = next(iter(sandbox.store.contacts.values()))
    status = existing.status
    before = len(sandbox.store.contacts)
    resp = api.post(sandbox.api_url("/Contacts"), json={"Contacts": [
        {"Name": "Fresh Ltd"}, {"ContactID": existing.id, "ContactStatus": "GONE"}]})
    first_error(resp)
    assert len(sandbox.store.contacts) == before + 1
    assert existing.status == status


def test_bank_transaction_batch_with_one_bad_element_saves_the_good_ones(sandbox: XeroSandbox,
                                                                         api: requests.Session) -> None:
    contact = open_invoice(sandbox).contact_id
    good = {"Type": "RECEIVE", "Contact": {"ContactID": contact}, "Date": "2026-11-03",
            "BankAccount": {"Code": "090"},
            "LineItems": [{"Description": "receipt", "Quantity": 1, "UnitAmount": 3, "AccountCode": "200"}]}
    before = len(sandbox.store.bank_transactions), len(sandbox.store.overpayments)
    over = {**good, "Type": "RECEIVE-OVERPAYMENT", "LineItems": [{"Description": "over", "LineAmount": 4}]}
    resp = api.put(sandbox.api_url("/BankTransactions"), json={"BankTransactions": [
        good, over, {**good, "BankAccount": {"Code": "200"}}]})
    assert "is not a valid bank account" in first_error(resp)
    assert (len(sandbox.store.bank_transactions), len(sandbox.store.overpayments)) == (before[0] + 2,
                                                                                       before[1] + 1)


def test_single_elements_still_save(sandbox: XeroSandbox, api: requests.Session) -> None:
    contact = open_invoice(sandbox).contact_id
    made = api.put(sandbox.api_url("/Invoices"), json={"Invoices": [
        new_invoice(contact, InvoiceNumber="PAIR-1"), new_invoice(contact, InvoiceNumber="PAIR-2")]})
    assert made.status_code == 200, made.text
    assert [i["InvoiceNumber"] for i in made.json(parse_float=Decimal)["Invoices"]] == ["PAIR-1", "PAIR-2"]


def test_contact_batch_summarize_errors_false_keeps_the_good_ones(sandbox: XeroSandbox,
                                                                 api: requests.Session) -> None:
    before = len(sandbox.store.contacts)
    resp = api.post(sandbox.api_url("/Contacts"), params={"summarizeErrors": "false"},
                    json={"Contacts": [{"Name": "Kept Ltd"}, {"Name": ""}]})
    assert resp.status_code == 200, resp.text
    ok, failed = resp.json()["Contacts"]
    assert (ok["StatusAttributeString"], ok["Name"]) == ("OK", "Kept Ltd")
    assert (failed["StatusAttributeString"], failed["HasValidationErrors"]) == ("ERROR", True)
    assert len(sandbox.store.contacts) == before + 1


# --- 2. voided, deleted and paid invoices cannot be edited --------------------------------------------


def finished_invoice(sandbox: XeroSandbox, api: requests.Session, status: str) -> InvoiceRecord:
    if status == "PAID":
        return next(i for i in sandbox.store.invoices.values() if i.status == "PAID")
    made = api.put(sandbox.api_url("/Invoices"), json=new_invoice(open_invoice(sandbox).contact_id,
                                                               Status="AUTHORISED" if status == "VOIDED" else "DRAFT"))
    inv = sandbox.store.invoice(made.json()["Invoices"][0]["InvoiceID"])
    assert api.post(sandbox.api_url(f"/Invoices/{inv.id}"), json={"Status": status}).status_code == 200
    return inv


@pytest.mark.parametrize(("status", "message"), [
    ("VOIDED", "Invoice not of valid status for modification"),
    ("DELETED", "Invoice not of valid status for modification"),
    ("PAID", "This document cannot be edited as it has a payment or credit note allocated to it.")])
@pytest.mark.parametrize("edit", [{"DueDate": "2027-03-31"}, {"Reference": "edited"}],
                         ids=["due-date", "reference"])
def test_finished_invoice_cannot_be_edited(sandbox: XeroSandbox, api: requests.Session, status: str, message: str,
                                          edit: dict[str, str]) -> None:
    inv = finished_invoice(sandbox, api, status)
    due, reference, updated = inv.due_date, inv.reference, inv.updated
    assert first_error(api.post(sandbox.api_url(f"/Invoices/{inv.id}"), json=edit)) == message
    assert (inv.due_date, inv.reference, inv.updated, inv.status) == (due, reference, updated, status)


@pytest.mark.parametrize("status", ["VOIDED", "DELETED"])
def test_voided_or_deleted_invoice_cannot_be_marked_sent(sandbox: XeroSandbox, api: requests.Session,
                                                         status: str) -> None:
    inv = finished_invoice(sandbox, api, status)
    resp = api.post(sandbox.api_url(f"/Invoices/{inv.id}"), json={"SentToContact": True})
    assert first_error(resp) == "Invoice not of valid status for modification"
    assert inv.sent is False


def test_paid_invoice_can_still_be_marked_sent(sandbox: XeroSandbox, api: requests.Session) -> None:
    inv = next(i for i in sandbox.store.invoices.values() if i.status == "PAID" and not i.sent)
    resp = api.post(sandbox.api_url(f"/Invoices/{inv.id}"), json={"SentToContact": True})
    assert resp.status_code == 200, resp.text
    assert inv.sent is True


def test_batch_editing_a_voided_invoice_refuses_only_that_edit(sandbox: XeroSandbox,
                                                               api: requests.Session) -> None:
    inv, voided = open_invoice(sandbox), finished_invoice(sandbox, api, "VOIDED")
    due = voided.due_date
    resp = api.post(sandbox.api_url("/Invoices"), json={"Invoices": [
        {"InvoiceID": inv.id, "DueDate": "2027-03-31"}, {"InvoiceID": voided.id, "DueDate": "2027-03-31"}]})
    assert first_error(resp) == "Invoice not of valid status for modification"
    assert (inv.due_date.isoformat(), voided.due_date) == ("2027-03-31", due)


# --- 3. only the organisation's currencies ------------------------------------------------------------


def test_currencies_lists_the_organisation_currencies(sandbox: XeroSandbox, api: requests.Session) -> None:
    resp = api.get(sandbox.api_url("/Currencies"))
    assert resp.status_code == 200, resp.text
    codes = {c["Code"] for c in resp.json()["Currencies"]}
    assert codes == {"GBP", "EUR", "USD"}  # the base currency and the generator's foreign ones
    seeded = {c.currency for c in sandbox.store.contacts.values()}
    seeded |= {i.currency for i in sandbox.store.invoices.values()}
    assert seeded <= codes


@pytest.mark.parametrize("code", ["XYZ", "JPY"], ids=["not-iso-4217", "not-enabled"])
def test_a_currency_the_organisation_does_not_have_is_refused(sandbox: XeroSandbox, api: requests.Session,
                                                              code: str) -> None:
    contact = open_invoice(sandbox).contact_id
    message = f"Organisation is not subscribed to currency {code}"
    counts = (len(sandbox.store.invoices), len(sandbox.store.credit_notes), len(sandbox.store.bank_transactions),
              len(sandbox.store.contacts))
    invoice = api.put(sandbox.api_url("/Invoices"), json=new_invoice(contact, CurrencyCode=code))
    assert first_error(invoice) == message
    note = api.put(sandbox.api_url("/CreditNotes"), json={
        "Type": "ACCRECCREDIT", "Contact": {"ContactID": contact}, "Date": "2026-11-02", "CurrencyCode": code,
        "LineItems": [{"Description": "pricing", "Quantity": 1, "UnitAmount": 5}]})
    assert first_error(note) == message
    txn = api.put(sandbox.api_url("/BankTransactions"), json={
        "Type": "RECEIVE", "Contact": {"ContactID": contact}, "Date": "2026-11-03", "BankAccount": {"Code": "090"},
        "CurrencyCode": code,
        "LineItems": [{"Description": "r", "Quantity": 1, "UnitAmount": 3, "AccountCode": "200"}]})
    assert first_error(txn) == message
    person = api.put(sandbox.api_url("/Contacts"), json={"Name": "Elsewhere Ltd", "DefaultCurrency": code})
    assert first_error(person) == message
    assert counts == (len(sandbox.store.invoices), len(sandbox.store.credit_notes),
                      len(sandbox.store.bank_transactions), len(sandbox.store.contacts))


def test_an_enabled_foreign_currency_is_accepted(sandbox: XeroSandbox, api: requests.Session) -> None:
    contact = open_invoice(sandbox).contact_id
    made = api.put(sandbox.api_url("/Invoices"), json=new_invoice(contact, CurrencyCode="USD"))
    assert made.status_code == 200, made.text
    assert made.json()["Invoices"][0]["CurrencyCode"] == "USD"
