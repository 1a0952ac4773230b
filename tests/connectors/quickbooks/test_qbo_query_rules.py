"""What QBO lets a query filter and sort on, per entity, and what it refuses (4001 QueryValidationError);
CURRENT_DATE, which QBO's query language does not have. Sources: docs/quickbooks.md, Query endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.quickbooks.emulator import query
from connectors.quickbooks.emulator.faults import Fault
from connectors.quickbooks.emulator.store import KINDS
from tests.connectors.quickbooks.helpers import fault


def bind(statement: str) -> str:
    return query.bind(query.parse(statement), KINDS)


def refusal(statement: str) -> str:
    with pytest.raises(Fault) as info:
        bind(statement)
    assert (info.value.status, info.value.code, info.value.message) == (400, "4001", "Invalid query")
    return info.value.detail


def test_every_entity_the_emulator_serves_has_its_lists() -> None:
    assert set(query.FILTERABLE) == set(query.SORTABLE) == set(query.PROPERTIES) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_the_lists_name_only_properties_the_entity_has(kind: str) -> None:
    assert query.FILTERABLE[kind] <= query.PROPERTIES[kind]
    assert query.SORTABLE[kind] <= query.PROPERTIES[kind]


# --- accepted ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "name"), [(k, n) for k in KINDS for n in sorted(query.FILTERABLE[k])])
def test_a_filterable_property_may_be_in_where(kind: str, name: str) -> None:
    value = "'2026-01-01'" if name in ("txndate", "duedate") else "'1'"
    assert bind(f"SELECT * FROM {kind} WHERE {name} = {value}") == kind


@pytest.mark.parametrize(("kind", "name"), [(k, n) for k in KINDS for n in sorted(query.SORTABLE[k])])
def test_a_sortable_property_may_be_in_orderby(kind: str, name: str) -> None:
    assert bind(f"SELECT * FROM {kind} ORDERBY {name} DESC") == kind


@pytest.mark.parametrize("kind", KINDS)
def test_metadata_times_filter_and_sort_on_every_entity(kind: str) -> None:
    assert bind(f"SELECT * FROM {kind} WHERE MetaData.CreateTime >= '2026-01-01' AND "
                f"MetaData.LastUpdatedTime < '2026-02-01T00:00:00Z' ORDERBY MetaData.LastUpdatedTime") == kind


@pytest.mark.parametrize("statement", [
    # What the connector (connectors/quickbooks/connector.py) and python-quickbooks send.
    "SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2026-01-01T00:00:00+00:00' ORDERBY Id "
    "STARTPOSITION 1 MAXRESULTS 1000",
    "SELECT * FROM Customer WHERE Active = true ORDERBY DisplayName",
    "SELECT * FROM Customer WHERE PrimaryEmailAddr = 'ap@acme.example'",
    "SELECT * FROM Invoice WHERE CustomerRef IN ('1', '2') AND DueDate < '2026-12-01' ORDERBY DueDate, Id",
    "SELECT * FROM Account WHERE AccountType = 'Bank' AND Active = true ORDERBY Name",
    "select count(*) from Payment where TxnDate >= '2026-01-01'",
])
def test_statements_on_filterable_and_sortable_properties_are_accepted(statement: str) -> None:
    bind(statement)


# --- refused -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("statement", "name"), [
    ("SELECT * FROM Invoice WHERE PrivateNote = 'x'", "PrivateNote"),
    ("SELECT * FROM Invoice WHERE EmailStatus = 'NeedToSend'", "EmailStatus"),
    ("SELECT * FROM Invoice WHERE ShipDate > '2026-01-01'", "ShipDate"),
    ("SELECT * FROM Invoice WHERE ExchangeRate > '1'", "ExchangeRate"),
    ("SELECT * FROM CreditMemo WHERE PrivateNote LIKE '%x%'", "PrivateNote"),
    ("SELECT * FROM Payment WHERE DepositToAccountRef = '35'", "DepositToAccountRef"),
    ("SELECT * FROM Payment WHERE PaymentRefNum = 'CHK-1'", "PaymentRefNum"),
    ("SELECT * FROM Customer WHERE Title = 'Dr'", "Title"),
    ("SELECT * FROM Customer WHERE Mobile = '1'", "Mobile"),
    ("SELECT * FROM Customer WHERE AcctNum = 'C-1'", "AcctNum"),
    ("SELECT * FROM Account WHERE AcctNum = '1000'", "AcctNum"),
    ("SELECT * FROM Purchase WHERE AccountRef = '35'", "AccountRef"),
    ("SELECT * FROM Deposit WHERE DepositToAccountRef = '35'", "DepositToAccountRef"),
    # Where sorting does not make a property filterable.
    ("SELECT * FROM Invoice WHERE Id > '0' AND SyncToken = '0'", "SyncToken"),
])
def test_where_on_a_property_qbo_does_not_filter_on_is_refused(statement: str, name: str) -> None:
    assert refusal(statement) == f"QueryValidationError: property '{name}' is not queryable"


@pytest.mark.parametrize(("statement", "name"), [
    ("SELECT * FROM Invoice ORDERBY CustomerRef", "CustomerRef"),
    ("SELECT * FROM Invoice ORDERBY Id, SalesTermRef DESC", "SalesTermRef"),
    ("SELECT * FROM Payment ORDERBY TxnDate", "TxnDate"),
    ("SELECT * FROM Customer ORDERBY Active", "Active"),
    ("SELECT * FROM Customer ORDERBY PrimaryEmailAddr", "PrimaryEmailAddr"),
    ("SELECT * FROM Account ORDERBY ParentRef", "ParentRef"),
])
def test_orderby_on_a_filterable_but_unsortable_property_is_refused(statement: str, name: str) -> None:
    assert refusal(statement) == f"QueryValidationError: property '{name}' is not sortable"


@pytest.mark.parametrize(("statement", "name"), [
    ("SELECT * FROM Invoice ORDERBY PrivateNote", "PrivateNote"),
    ("SELECT * FROM Customer ORDERBY Notes", "Notes"),
])
def test_orderby_on_a_property_qbo_neither_filters_nor_sorts_on_is_refused(statement: str, name: str) -> None:
    assert refusal(statement) == f"QueryValidationError: property '{name}' is not queryable"


@pytest.mark.parametrize("condition", [
    "DueDate < CURRENT_DATE", "TxnDate = current_date", "DueDate <= 'CURRENT_DATE'",
    "MetaData.LastUpdatedTime >= CURRENT_DATE", "DueDate IN ('2026-01-01', CURRENT_DATE)",
])
def test_current_date_is_not_part_of_qbos_query_language(condition: str) -> None:
    detail = refusal(f"SELECT * FROM Invoice WHERE {condition}")
    assert "is not a valid date for" in detail
    assert "CURRENT_DATE" in detail.upper()


@pytest.mark.parametrize("statement", [
    "SELECT * FROM Invoice WHERE DocNumber LIKE 'INV-%' AND DocNumber > 'INV-1'",
    "SELECT * FROM Invoice WHERE CustomerRef LIKE '1%' AND CustomerRef IN ('1', '2')",
    "SELECT * FROM Account WHERE AccountType LIKE 'Bank%' AND Active IN (true, false)",
    "SELECT * FROM Invoice WHERE Id IN ('1', '2') AND Id > '0' AND Balance <= '10' AND TotalAmt != '0'",
    "SELECT * FROM Customer WHERE Active = false AND DisplayName >= 'A'",
])
def test_operators_the_property_type_takes_are_accepted(statement: str) -> None:
    bind(statement)


@pytest.mark.parametrize(("condition", "op", "name"), [
    ("Balance LIKE '1%'", "LIKE", "Balance"),
    ("TxnDate LIKE '2026%'", "LIKE", "TxnDate"),
    ("Id LIKE '1%'", "LIKE", "Id"),
    ("MetaData.LastUpdatedTime LIKE '2026%'", "LIKE", "MetaData.LastUpdatedTime"),
    ("CustomerRef > '1'", ">", "CustomerRef"),
    ("SalesTermRef <= '3'", "<=", "SalesTermRef"),
])
def test_an_operator_the_property_type_does_not_take_is_refused(condition: str, op: str, name: str) -> None:
    detail = refusal(f"SELECT * FROM Invoice WHERE {condition}")
    assert detail == f"QueryValidationError: operator {op} is not supported for property '{name}'"


@pytest.mark.parametrize(("statement", "op", "name"), [
    ("SELECT * FROM Customer WHERE Active > false", ">", "Active"),
    ("SELECT * FROM Account WHERE SubAccount LIKE 't%'", "LIKE", "SubAccount"),
    ("SELECT * FROM Account WHERE AccountType < 'Bank'", "<", "AccountType"),
])
def test_booleans_and_enums_take_only_their_operators(statement: str, op: str, name: str) -> None:
    assert refusal(statement) == f"QueryValidationError: operator {op} is not supported for property '{name}'"


def test_startposition_zero_reads_from_the_first_row() -> None:
    # QBO lets STARTPOSITION 0 through (intuit/QuickBooks-V3-DotNET-SDK#111 shows such a query reaching
    # processing); the emulator reads it as 1.
    rows = [{"Id": str(n)} for n in range(1, 4)]
    page, total = query.run(query.parse("SELECT * FROM Invoice STARTPOSITION 0 MAXRESULTS 2"), rows)
    assert ([r["Id"] for r in page], total) == (["1", "2"], 3)


# --- over HTTP -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("statement", "detail"), [
    ("SELECT * FROM Invoice WHERE DueDate < CURRENT_DATE", "'CURRENT_DATE' is not a valid date for DueDate"),
    ("SELECT * FROM Invoice WHERE PrivateNote = 'Voided'", "property 'PrivateNote' is not queryable"),
    ("SELECT * FROM Invoice ORDERBY CustomerRef", "property 'CustomerRef' is not sortable"),
    ("SELECT * FROM Invoice WHERE Balance LIKE '1%'", "operator LIKE is not supported for property 'Balance'"),
])
def test_refusals_arrive_as_a_4001_fault(api: Any, statement: str, detail: str) -> None:
    error = fault(api.query(statement))
    assert (error["code"], error["Message"], error["Detail"]) == ("4001", "Invalid query",
                                                                  f"QueryValidationError: {detail}")


def test_an_overdue_query_uses_a_date_literal(api: Any, sandbox: Any) -> None:
    today = sandbox.store.clock().date().isoformat()
    answer = api.query(f"SELECT * FROM Invoice WHERE DueDate < '{today}' AND Balance > '0' ORDERBY DueDate")
    assert answer.status_code == 200
    due = [i["DueDate"] for i in answer.json()["QueryResponse"].get("Invoice", [])]
    assert due
    assert due == sorted(due)
    assert all(d < today for d in due)
