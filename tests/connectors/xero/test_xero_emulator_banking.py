"""Bank transactions, overpayments and the chart of accounts on the Xero emulator, over raw HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from connectors.xero.emulator.testing import XeroSandbox


def url(sandbox: XeroSandbox, path: str) -> str:
    return sandbox.api_url(path)


def txn(sandbox: XeroSandbox, kind: str, lines: list[dict[str, Any]], bank: str = "090") -> dict[str, Any]:
    contact = next(iter(sandbox.store.contacts.values()))
    return {"BankTransactions": [{"Type": kind, "Contact": {"ContactID": contact.id}, "Date": "2026-11-03",
                                  "BankAccount": {"Code": bank}, "LineAmountTypes": "NoTax", "LineItems": lines}]}


def errors(resp: requests.Response) -> list[str]:
    assert resp.status_code == 400, resp.text
    return [e["Message"] for el in resp.json()["Elements"] for e in el["ValidationErrors"]]


def test_receive_overpayment_creates_an_overpayment_credit(sandbox: XeroSandbox, api: requests.Session) -> None:
    body = txn(sandbox, "RECEIVE-OVERPAYMENT", [{"Description": "Overpayment INV-1", "LineAmount": 42.5}])
    resp = api.put(url(sandbox, "/BankTransactions"), json=body)
    assert resp.status_code == 200, resp.text
    created = resp.json()["BankTransactions"][0]
    assert created["Type"] == "RECEIVE-OVERPAYMENT"
    assert created["Total"] == 42.5
    assert created["LineItems"][0]["AccountCode"] == "610"  # Xero codes it to Accounts Receivable itself
    listed = api.get(url(sandbox, "/Overpayments")).json()["Overpayments"]
    assert [o["OverpaymentID"] for o in listed] == [created["OverpaymentID"]]
    one = api.get(url(sandbox, f"/Overpayments/{created['OverpaymentID']}")).json()["Overpayments"][0]
    assert (one["Type"], one["Status"], one["RemainingCredit"], one["Total"]) == (
        "RECEIVE-OVERPAYMENT", "AUTHORISED", 42.5, 42.5)
    assert one["Contact"]["ContactID"] == body["BankTransactions"][0]["Contact"]["ContactID"]
    assert api.get(url(sandbox, "/Overpayments/00000000-0000-0000-0000-000000000000")).status_code == 404


def test_spend_money_to_bank_fees(sandbox: XeroSandbox, api: requests.Session) -> None:
    body = txn(sandbox, "SPEND", [{"Description": "Bank charges", "Quantity": 1, "UnitAmount": 7.5,
                                   "AccountCode": "404"}])
    created = api.put(url(sandbox, "/BankTransactions"), json=body).json()["BankTransactions"][0]
    assert (created["Type"], created["Total"], created["LineItems"][0]["AccountCode"]) == ("SPEND", 7.5, "404")
    assert created["BankAccount"]["Code"] == "090"
    assert not sandbox.store.overpayments


@pytest.mark.parametrize(("kind", "lines", "bank", "message"), [
    ("SPEND", [{"Description": "x", "LineAmount": 5, "AccountCode": "999"}], "090",
     "Account code '999' is not a valid code for this document."),
    ("SPEND", [{"Description": "x", "LineAmount": 5, "AccountCode": "610"}], "090",  # a system account
     "Account code '610' is not a valid code for this document."),
    ("RECEIVE", [{"Description": "x", "LineAmount": 5, "AccountCode": "091"}], "090",  # a bank account
     "Account code '091' is not a valid code for this document."),
    ("RECEIVE", [{"Description": "x", "LineAmount": 5}], "090", "Account code must be specified."),
    ("SPEND", [{"Description": "x", "LineAmount": 5, "AccountCode": "404"}], "404",
     "Account code '404' is not a valid bank account."),
    ("RECEIVE-OVERPAYMENT", [{"Description": "a", "LineAmount": 5}, {"Description": "b", "LineAmount": 5}], "090",
     "An overpayment must have exactly one line item."),
    ("RECEIVE-OVERPAYMENT", [{"Description": "a", "LineAmount": 0}], "090", "The total must be greater than zero."),
    ("SPEND-TRANSFER", [{"Description": "a", "LineAmount": 5, "AccountCode": "404"}], "090",
     "Bank transaction type SPEND-TRANSFER is not supported by this emulator."),
])
def test_invalid_bank_transactions_are_rejected(sandbox: XeroSandbox, api: requests.Session, kind: str,
                                                lines: list[dict[str, Any]], bank: str, message: str) -> None:
    resp = api.put(url(sandbox, "/BankTransactions"), json=txn(sandbox, kind, lines, bank))
    assert errors(resp) == [message]
    assert not sandbox.store.bank_transactions
    assert not sandbox.store.overpayments


def test_payment_needs_a_bank_account(sandbox: XeroSandbox, api: requests.Session) -> None:
    inv = next(i for i in sandbox.store.invoices.values() if i.status == "AUTHORISED")
    body = {"Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "200"}, "Date": "2026-11-02", "Amount": 1}
    assert errors(api.put(url(sandbox, "/Payments"), json=body)) == ["Account code '200' is not a valid bank account."]


def test_idempotency_key_replays_an_overpayment(sandbox: XeroSandbox, api: requests.Session) -> None:
    body = txn(sandbox, "RECEIVE-OVERPAYMENT", [{"Description": "Overpayment", "LineAmount": 10}])
    first = api.put(url(sandbox, "/BankTransactions"), json=body, headers={"Idempotency-Key": "match-9-overpayment"})
    again = api.put(url(sandbox, "/BankTransactions"), json=body, headers={"Idempotency-Key": "match-9-overpayment"})
    assert first.content == again.content
    assert len(sandbox.store.overpayments) == len(sandbox.store.bank_transactions) == 1


def test_chart_of_accounts(sandbox: XeroSandbox, api: requests.Session) -> None:
    accounts = {a["Code"]: a for a in api.get(url(sandbox, "/Accounts")).json()["Accounts"]}
    assert accounts["090"]["Type"] == "BANK"
    assert accounts["404"]["Name"] == "Bank Fees"
    assert accounts["610"]["SystemAccount"] == "DEBTORS"
