"""The query endpoint's company objects (Preferences, CompanyInfo) and its page bounds (MAXRESULTS under 1,
STARTPOSITION under 1). Sources: docs/quickbooks.md, Query endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from quickbooks import QuickBooks
from quickbooks.objects.company_info import CompanyInfo

from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.emulator import query
from connectors.quickbooks.emulator.testing import QboSandbox
from tests.connectors.quickbooks.helpers import fault


@pytest.mark.parametrize(("statement", "kind", "path"), [
    ("SELECT * FROM Preferences", "Preferences", "/preferences"),
    ("select * from CompanyInfo", "CompanyInfo", "/companyinfo/{realm}"),
])
def test_a_company_object_is_served_by_the_query_endpoint(api: Any, sandbox: QboSandbox, statement: str,
                                                          kind: str, path: str) -> None:
    answer = api.query(statement)
    assert answer.status_code == 200, answer.text
    page = answer.json()["QueryResponse"]
    direct = api.get(path.format(realm=sandbox.realm_id)).json()[kind]
    assert page == {kind: [direct], "startPosition": 1, "maxResults": 1}


def test_the_queried_preferences_carry_the_home_currency(api: Any, sandbox: QboSandbox) -> None:
    (prefs,) = api.query("SELECT * FROM Preferences").json()["QueryResponse"]["Preferences"]
    assert prefs["CurrencyPrefs"]["HomeCurrency"] == {"value": sandbox.store.currency}


def test_a_company_object_counts_as_one_row(api: Any) -> None:
    assert api.query("SELECT COUNT(*) FROM CompanyInfo").json()["QueryResponse"] == {"totalCount": 1}
    assert api.query("SELECT * FROM CompanyInfo STARTPOSITION 2").json()["QueryResponse"] == {}


def test_python_quickbooks_lists_company_info_through_the_query(connector: QuickBooksConnector,
                                                                sandbox: QboSandbox) -> None:
    qb: QuickBooks = connector.sdk()
    (info,) = CompanyInfo.all(qb=qb)  # SELECT * FROM CompanyInfo MAXRESULTS 100
    assert (info.CompanyName, info.Country) == (sandbox.store.company_name, sandbox.store.country)


@pytest.mark.parametrize("value", [0, -5])
def test_maxresults_under_one_is_refused(api: Any, value: int) -> None:
    error = fault(api.query(f"SELECT * FROM Invoice STARTPOSITION 1 MAXRESULTS {value}"))
    assert (error["code"], error["Message"], error["Detail"]) == (
        "4001", "Invalid query", f"QueryValidationError: value {value} is too small. Min allowed value is 1")


def test_maxresults_of_one_is_a_page_of_one(api: Any) -> None:
    page = api.query("SELECT * FROM Invoice ORDERBY Id MAXRESULTS 1").json()["QueryResponse"]
    assert (page["startPosition"], page["maxResults"], len(page["Invoice"])) == (1, 1, 1)


def test_a_negative_startposition_reads_from_the_first_row() -> None:
    rows = [{"Id": str(n)} for n in range(1, 4)]
    page, total = query.run(query.parse("SELECT * FROM Invoice STARTPOSITION -3 MAXRESULTS 2"), rows)
    assert ([r["Id"] for r in page], total) == (["1", "2"], 3)
