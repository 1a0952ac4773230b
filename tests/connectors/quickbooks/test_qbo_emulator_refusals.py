"""Requests the real QBO API refuses, refused by the emulator too (over HTTP): ORDERBY and nested WHERE
properties, impossible dates, and a requestid reused on another entity's endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.quickbooks.emulator.testing import QboSandbox
from tests.connectors.quickbooks.helpers import customer_id, fault

SALES_LINE = [{"Amount": 10, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]


# --- 1 and 2: ORDERBY and WHERE, properties and date literals ---------------------------------------
@pytest.mark.parametrize(("statement", "detail"), [
    ("SELECT * FROM Invoice ORDERBY Nonsense", "Property Nonsense not found for Entity Invoice"),
    ("SELECT * FROM Invoice WHERE Balance > '0' ORDERBY Id, Bogus DESC", "Property Bogus not found for Entity Invoice"),
    ("SELECT * FROM Invoice ORDERBY MetaData.Foo", "Property MetaData.Foo not found for Entity Invoice"),
    ("SELECT * FROM Invoice WHERE MetaData.Foo >= '2026-01-01'", "Property MetaData.Foo not found for Entity Invoice"),
    ("SELECT * FROM Invoice WHERE Foo.Bar = '1'", "Property Foo.Bar not found for Entity Invoice"),
    ("SELECT * FROM Invoice WHERE CustomerRef.Foo = '1'", "Property CustomerRef.Foo not found for Entity Invoice"),
    ("SELECT * FROM Payment WHERE CurrencyRef.Bar = 'GBP'", "Property CurrencyRef.Bar not found for Entity Payment"),
    ("SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime.Foo >= '2026-01-01'",
     "Property MetaData.LastUpdatedTime.Foo not found for Entity Invoice"),
    # Properties the entity has but QBO does not filter on.
    ("SELECT * FROM Invoice WHERE Line = '1'", "property 'Line' is not queryable"),
    ("SELECT * FROM Invoice WHERE DepartmentRef = '1'", "property 'DepartmentRef' is not queryable"),
    ("SELECT * FROM Invoice WHERE MetaData.LastModifiedByRef = '1'",
     "property 'MetaData.LastModifiedByRef' is not queryable"),
    ("SELECT * FROM Invoice ORDERBY CustomField", "property 'CustomField' is not queryable"),
])
def test_unknown_or_unqueryable_properties_are_a_4001_fault(api: Any, statement: str, detail: str) -> None:
    error = fault(api.query(statement))
    assert (error["code"], error["Message"]) == ("4001", "Invalid query")
    assert error["Detail"] == f"QueryValidationError: {detail}"


@pytest.mark.parametrize("statement", [
    # The connector's incremental list query, and what python-quickbooks' filter()/where() send.
    "SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2026-01-01T00:00:00+00:00' ORDERBY Id "
    "STARTPOSITION 1 MAXRESULTS 1000",
    "SELECT * FROM Invoice WHERE CustomerRef = '1'",
    "SELECT * FROM Invoice WHERE Balance > '0' ORDERBY DueDate MAXRESULTS 1000",
    "SELECT * FROM Invoice WHERE CurrencyRef = 'GBP' AND MetaData.CreateTime >= '2020-01-01'",
    "SELECT * FROM Payment ORDERBY MetaData.LastUpdatedTime DESC",
    "SELECT * FROM Invoice WHERE TxnDate >= '2024-02-29' AND DueDate <= '2030-12-31' ORDERBY TxnDate",
])
def test_queries_real_clients_send_still_work(api: Any, statement: str) -> None:
    assert api.query(statement).status_code == 200


@pytest.mark.parametrize("condition", [
    "TxnDate = '2026-02-30'", "DueDate > '2026-13-01'", "TxnDate IN ('2026-01-01', 'tomorrow')",
    "MetaData.LastUpdatedTime >= 'yesterday'", "MetaData.CreateTime < '2026-01-01T25:00:00'",
])
def test_an_impossible_date_in_where_is_a_4001_fault(api: Any, condition: str) -> None:
    error = fault(api.query(f"SELECT * FROM Invoice WHERE {condition}"))
    assert error["code"] == "4001"
    assert "is not a valid date" in error["Detail"]


# --- 3: dates in request bodies ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("field", "value", "code", "message"), [
    ("TxnDate", "2026-13-01", "2070", "Invalid Date"),
    ("TxnDate", "2026-02-30", "2070", "Invalid Date"),
    ("DueDate", "tomorrow", "2060", "Invalid Date Format"),
    ("DueDate", "2026-02-01junk", "2060", "Invalid Date Format"),
    ("DueDate", 20260201, "2060", "Invalid Date Format"),
])
def test_an_invalid_body_date_is_refused_and_nothing_is_created(sandbox: QboSandbox, api: Any, field: str,
                                                                value: Any, code: str, message: str) -> None:
    before = len(sandbox.store.entities["Invoice"])
    error = fault(api.post("invoice", {"CustomerRef": {"value": customer_id(sandbox)}, "Line": SALES_LINE,
                                       field: value}))
    assert (error["code"], error["Message"], error["element"]) == (code, message, field)
    assert len(sandbox.store.entities["Invoice"]) == before


def test_payment_and_update_dates_are_checked_the_same_way(sandbox: QboSandbox, api: Any) -> None:
    error = fault(api.post("payment", {"CustomerRef": {"value": customer_id(sandbox)}, "TotalAmt": 1,
                                       "TxnDate": "2026-02-29"}))
    assert (error["code"], error["element"]) == ("2070", "TxnDate")
    invoice = sandbox.store.all("Invoice")[0]
    error = fault(api.post("invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"], "sparse": True,
                                       "DueDate": "31/12/2026"}))
    assert (error["code"], error["element"]) == ("2060", "DueDate")


def test_valid_dates_are_kept(sandbox: QboSandbox, api: Any) -> None:
    made = api.post("invoice", {"CustomerRef": {"value": customer_id(sandbox)}, "Line": SALES_LINE,
                                "TxnDate": "2028-02-29", "DueDate": "2028-03-31"}).json()["Invoice"]
    assert (made["TxnDate"], made["DueDate"]) == ("2028-02-29", "2028-03-31")


# --- 4: requestid -----------------------------------------------------------------------------------
def test_a_requestid_reused_on_another_endpoint_is_a_new_request(sandbox: QboSandbox, api: Any) -> None:
    customer = customer_id(sandbox)
    invoice = api.post("invoice", {"CustomerRef": {"value": customer}, "Line": SALES_LINE}, requestid="shared-1")
    payment = api.post("payment", {"CustomerRef": {"value": customer}, "TotalAmt": 1}, requestid="shared-1")
    assert "Invoice" in invoice.json()
    assert "Payment" in payment.json()
    assert "Invoice" not in payment.json()
    assert payment.json()["Payment"]["Id"] in sandbox.store.entities["Payment"]
    # The same endpoint still replays: no second invoice for a retried create.
    again = api.post("invoice", {"CustomerRef": {"value": customer}, "Line": SALES_LINE}, requestid="shared-1")
    assert again.content == invoice.content


def test_a_requestid_reused_for_another_operation_is_a_new_request(sandbox: QboSandbox, api: Any) -> None:
    made = api.post("invoice", {"CustomerRef": {"value": customer_id(sandbox)}, "Line": SALES_LINE},
                    requestid="shared-2").json()["Invoice"]
    voided = api.post("invoice", {"Id": made["Id"], "SyncToken": made["SyncToken"]}, operation="void",
                      requestid="shared-2")
    assert voided.status_code == 200
    assert voided.json()["Invoice"]["PrivateNote"] == "Voided"
    assert sandbox.store.entities["Invoice"][made["Id"]]["TotalAmt"] == 0
