"""The emulator's query grammar: what python-quickbooks and real apps send, parsed and evaluated."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.quickbooks.emulator import query
from connectors.quickbooks.emulator.faults import Fault

ROWS = [
    {"Id": "3", "DocNumber": "INV-3", "Balance": Decimal("0"), "TxnDate": "2026-01-05",
     "CustomerRef": {"value": "1", "name": "Acme"}, "MetaData": {"LastUpdatedTime": "2026-10-01T12:00:00+00:00"}},
    {"Id": "10", "DocNumber": "INV-10", "Balance": Decimal("120.50"), "TxnDate": "2026-03-01",
     "CustomerRef": {"value": "2", "name": "Globex"}, "MetaData": {"LastUpdatedTime": "2026-10-20T12:00:00+00:00"}},
    {"Id": "7", "DocNumber": "X'7", "Balance": Decimal("10"), "TxnDate": "2026-02-01",
     "CustomerRef": {"value": "1", "name": "Acme"}, "MetaData": {"LastUpdatedTime": "2026-10-10T12:00:00+00:00"}},
]


def ids(statement: str) -> list[str]:
    page, _ = query.run(query.parse(statement), ROWS)
    return [r["Id"] for r in page]


@pytest.mark.parametrize(("statement", "expected"), [
    ("SELECT * FROM Invoice", ["3", "10", "7"]),
    ("SELECT * FROM Invoice WHERE Balance > '0' ORDERBY Id", ["7", "10"]),
    ("select * from Invoice where Balance > '0' and CustomerRef = '1'", ["7"]),
    ("SELECT * FROM Invoice WHERE DocNumber LIKE 'INV%' ORDERBY Id DESC", ["10", "3"]),
    ("SELECT * FROM Invoice WHERE DocNumber LIKE '%1%'", ["10"]),
    ("SELECT * FROM Invoice WHERE DocNumber = 'X\\'7'", ["7"]),
    ("SELECT * FROM Invoice WHERE Id IN ('3', '7')", ["3", "7"]),
    ("SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2026-10-10T00:00:00-08:00' ORDERBY Id",
     ["7", "10"]),
    ("SELECT * FROM Invoice WHERE TxnDate < '2026-02-15' ORDER BY TxnDate", ["3", "7"]),
    ("SELECT * FROM Invoice ORDERBY Id STARTPOSITION 2 MAXRESULTS 1", ["7"]),
    ("SELECT * FROM Invoice WHERE Balance != '0' ORDERBY Balance DESC", ["10", "7"]),
])
def test_statements_select_the_right_rows(statement: str, expected: list[str]) -> None:
    assert ids(statement) == expected


def test_count_and_max_results_cap() -> None:
    parsed = query.parse("SELECT COUNT(*) FROM Invoice WHERE Balance > '0'")
    assert parsed.count
    assert query.run(parsed, ROWS)[1] == 2
    assert query.parse("SELECT * FROM Invoice MAXRESULTS 1000").max_results == query.MAX_RESULTS
    assert query.parse("SELECT * FROM Invoice").max_results == query.DEFAULT_RESULTS


def test_max_results_over_1000_is_a_4001_fault_not_a_shorter_page() -> None:
    with pytest.raises(Fault) as info:
        query.parse("SELECT * FROM Invoice STARTPOSITION 1 MAXRESULTS 1001")
    assert (info.value.code, info.value.message) == ("4001", "Invalid query")
    assert "Max allowed value is 1000" in info.value.detail


@pytest.mark.parametrize("statement", [
    "SELECT * FROM Invoice WHERE Balance > '0' OR Id = '1'",
    "SELECT * Invoice",
    "SELECT * FROM Invoice WHERE Balance ~ '0'",
    "SELECT * FROM Invoice WHERE Id IN ('1'",
    "SELECT * FROM Invoice GROUP BY Id",
    "DELETE FROM Invoice",
])
def test_unsupported_grammar_is_a_4000_fault(statement: str) -> None:
    with pytest.raises(Fault) as info:
        query.parse(statement)
    assert info.value.code == "4000"
    assert info.value.status == 400


@pytest.mark.parametrize(("statement", "kind"), [
    ("SELECT * FROM Invoice WHERE Balance > '0' AND CustomerRef = '1'", "Invoice"),
    ("select * from invoice where metadata.lastupdatedtime >= '2026-01-01' orderby DueDate", "Invoice"),
    ("SELECT * FROM Payment WHERE UnappliedAmt > '0'", "Payment"),
    ("SELECT * FROM CreditMemo WHERE RemainingCredit > '0'", "CreditMemo"),
    ("SELECT * FROM Customer WHERE DisplayName LIKE 'Acme%'", "Customer"),
    ("SELECT * FROM Account WHERE AccountType = 'Bank'", "Account"),
])
def test_bind_names_the_entity_the_statement_reads(statement: str, kind: str) -> None:
    assert query.bind(query.parse(statement), ("Customer", "Invoice", "Payment", "CreditMemo", "Account")) == kind


@pytest.mark.parametrize(("statement", "detail"), [
    # QBO validates WHERE properties against the entity's metadata; an unknown one is not "no rows".
    ("SELECT * FROM Invoice WHERE Nonsense = '1'", "Property Nonsense not found for Entity Invoice"),
    ("SELECT * FROM Payment WHERE Balance > '0'", "Property Balance not found for Entity Payment"),
    ("SELECT * FROM Invoice WHERE MetaData.Bogus >= '2026-01-01'",
     "Property MetaData.Bogus not found for Entity Invoice"),
    ("SELECT * FROM Widget", "Metadata not found for Entity: Widget"),
])
def test_unknown_entity_or_property_is_a_4001_fault(statement: str, detail: str) -> None:
    with pytest.raises(Fault) as info:
        query.bind(query.parse(statement), ("Invoice", "Payment"))
    assert (info.value.status, info.value.code, info.value.message) == (400, "4001", "Invalid query")
    assert info.value.detail == f"QueryValidationError: {detail}"
