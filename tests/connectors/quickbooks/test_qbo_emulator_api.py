"""The emulator's /v3 API over raw HTTP: payments, SyncTokens, requestid, faults, query, CDC, limits."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from lxml import etree

from addon.domain.types import TokenSet
from connectors.quickbooks.emulator import api as api_module
from connectors.quickbooks.emulator import query as query_module
from connectors.quickbooks.emulator.testing import QboSandbox, authorize, start_qbo_emulator
from connectors.sandbox.fx import day_rate
from connectors.sandbox.limits import Limits


def pay(api: Any, invoice: dict[str, Any], amount: str, **params: str) -> Any:
    return api.post("payment", {"CustomerRef": {"value": invoice["CustomerRef"]["value"]}, "TotalAmt": amount,
                                "Line": [{"Amount": amount,
                                          "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]},
                    **params)


def test_payment_reduces_balance_bumps_synctoken_and_links(api: Any, open_invoice: dict[str, Any]) -> None:
    answer = pay(api, open_invoice, "5.00")
    assert answer.status_code == 200
    payment = answer.json()["Payment"]
    assert payment["TotalAmt"] == 5.0
    assert payment["UnappliedAmt"] == 0
    assert payment["Line"][0]["LinkedTxn"] == [{"TxnId": open_invoice["Id"], "TxnType": "Invoice"}]
    after = api.get(f"invoice/{open_invoice['Id']}").json()["Invoice"]
    assert Decimal(str(after["Balance"])) == open_invoice["Balance"] - Decimal("5.00")
    assert int(after["SyncToken"]) == int(open_invoice["SyncToken"]) + 1
    assert {"TxnId": payment["Id"], "TxnType": "Payment"} in after["LinkedTxn"]


def test_overpaying_a_line_is_a_validation_fault(api: Any, open_invoice: dict[str, Any]) -> None:
    answer = pay(api, open_invoice, str(open_invoice["Balance"] + 1))
    assert answer.status_code == 400
    fault = answer.json()["Fault"]
    assert fault["type"] == "ValidationFault"
    assert fault["Error"][0]["code"] == "6000"


def test_unapplied_amount_is_what_the_lines_leave_over(api: Any, open_invoice: dict[str, Any]) -> None:
    body = {"CustomerRef": {"value": open_invoice["CustomerRef"]["value"]}, "TotalAmt": 30,
            "Line": [{"Amount": 10, "LinkedTxn": [{"TxnId": open_invoice["Id"], "TxnType": "Invoice"}]}]}
    assert api.post("payment", body).json()["Payment"]["UnappliedAmt"] == 20.0


def test_requestid_replays_the_first_response(sandbox: QboSandbox, api: Any, open_invoice: dict[str, Any]) -> None:
    first = pay(api, open_invoice, "3.00", requestid="pay-once-1")
    second = pay(api, open_invoice, "3.00", requestid="pay-once-1")
    assert first.json()["Payment"]["Id"] == second.json()["Payment"]["Id"]
    assert sandbox.store.entities["Invoice"][open_invoice["Id"]]["Balance"] == open_invoice["Balance"] - 3
    assert pay(api, open_invoice, "1.00", requestid="x" * 51).status_code == 400


def test_stale_synctoken_is_error_5010(api: Any, open_invoice: dict[str, Any]) -> None:
    pay(api, open_invoice, "1.00")  # moves the invoice's SyncToken on
    answer = api.post("invoice", {"Id": open_invoice["Id"], "SyncToken": open_invoice["SyncToken"],
                                  "sparse": True, "PrivateNote": "late edit"})
    assert answer.status_code == 400
    error = answer.json()["Fault"]["Error"][0]
    assert (error["code"], error["Message"]) == ("5010", "Stale Object Error")


def test_sparse_update_keeps_other_fields_and_full_update_clears_them(api: Any,
                                                                       open_invoice: dict[str, Any]) -> None:
    current = api.get(f"invoice/{open_invoice['Id']}").json()["Invoice"]
    sparse = api.post("invoice", {"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True,
                                  "PrivateNote": "n1"}).json()["Invoice"]
    assert sparse["CustomerMemo"] == current["CustomerMemo"]
    full = api.post("invoice", {"Id": current["Id"], "SyncToken": sparse["SyncToken"],
                                "CustomerRef": current["CustomerRef"], "Line": current["Line"],
                                "PrivateNote": "n2"}).json()["Invoice"]
    assert "CustomerMemo" not in full
    assert full["PrivateNote"] == "n2"
    assert full["TotalAmt"] == current["TotalAmt"]


def test_void_invoice_zeroes_it_and_paid_invoices_cannot_be_voided(sandbox: QboSandbox, api: Any) -> None:
    invoices = sandbox.store.all("Invoice")
    unpaid = next(i for i in invoices if i["Balance"] > 0 and not i["LinkedTxn"])
    paid = next(i for i in invoices if i["LinkedTxn"])
    voided = api.post("invoice", {"Id": unpaid["Id"], "SyncToken": unpaid["SyncToken"]},
                      operation="void").json()["Invoice"]
    assert (voided["TotalAmt"], voided["Balance"], voided["PrivateNote"]) == (0, 0, "Voided")
    refused = api.post("invoice", {"Id": paid["Id"], "SyncToken": paid["SyncToken"]}, operation="void")
    assert refused.status_code == 400


def test_not_found_is_error_610(api: Any) -> None:
    answer = api.get("invoice/999999")
    assert answer.status_code == 400
    assert answer.json()["Fault"]["Error"][0]["code"] == "610"


def test_query_shapes_paging_and_count(api: Any, sandbox: QboSandbox) -> None:
    total = len(sandbox.store.entities["Invoice"])
    page = api.query("SELECT * FROM Invoice ORDERBY Id STARTPOSITION 3 MAXRESULTS 5").json()["QueryResponse"]
    assert (page["startPosition"], page["maxResults"], len(page["Invoice"])) == (3, 5, 5)
    count = api.get("query", query="SELECT COUNT(*) FROM Invoice").json()["QueryResponse"]
    assert count == {"totalCount": total}
    assert api.query("SELECT * FROM Invoice WHERE DocNumber = 'nope'").json()["QueryResponse"] == {}
    bad = api.query("SELECT * FROM Invoice WHERE Id = '1' OR Id = '2'")
    assert bad.status_code == 400
    assert bad.json()["Fault"]["Error"][0]["code"] == "4000"
    for statement in ("SELECT * FROM Invoice WHERE Nonsense = '1'", "SELECT * FROM Widget"):
        invalid = api.query(statement)
        assert invalid.status_code == 400
        assert invalid.json()["Fault"]["Error"][0]["code"] == "4001"


def test_cdc_reports_changes_and_deletions(api: Any, sandbox: QboSandbox, open_invoice: dict[str, Any]) -> None:
    since = (datetime.now(UTC) - timedelta(seconds=5)).isoformat(timespec="seconds")
    payment = pay(api, open_invoice, "2.00").json()["Payment"]
    api.post("payment", {"Id": payment["Id"], "SyncToken": payment["SyncToken"]}, operation="delete")
    body = api.get("cdc", entities="Invoice,Payment,Customer", changedSince=since).json()
    invoices, payments, customers = body["CDCResponse"][0]["QueryResponse"]
    assert [i["Id"] for i in invoices["Invoice"]] == [open_invoice["Id"]]
    assert payments["Payment"] == [{"Id": payment["Id"], "status": "Deleted", "domain": "QBO",
                                    "MetaData": payments["Payment"][0]["MetaData"]}]
    assert customers == {}
    assert sandbox.store.entities["Invoice"][open_invoice["Id"]]["Balance"] == open_invoice["Balance"]


def test_cdc_looks_back_30_days_at_most_and_caps_objects(api: Any, open_invoice: dict[str, Any],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    too_old = (datetime.now(UTC) - timedelta(days=31)).isoformat()
    assert api.get("cdc", entities="Invoice", changedSince=too_old).status_code == 400
    monkeypatch.setattr(api_module, "CDC_MAX_OBJECTS", 2)
    since = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    for _ in range(3):
        pay(api, open_invoice, "1.00")
    body = api.get("cdc", entities="Payment,Invoice", changedSince=since).json()
    payments, invoices = body["CDCResponse"][0]["QueryResponse"]
    assert len(payments["Payment"]) == 2
    assert invoices == {}


def test_minorversion_is_accepted_and_auth_is_checked(api: Any, sandbox: QboSandbox, tokens: TokenSet) -> None:
    assert api.get("customer/1", minorversion="75").status_code == 200
    assert sandbox.state.requests[-1]["args"]["minorversion"] == "75"
    api.session.headers["Authorization"] = "Bearer nope"
    assert api.get("customer/1").status_code == 401
    api.session.headers["Authorization"] = f"Bearer {tokens.access_token}"
    other = api.session.get(f"{sandbox.url}/v3/company/123/customer/1", timeout=10)
    assert other.status_code == 403


def test_throttling_answers_429_with_an_xml_fault_3001() -> None:
    with start_qbo_emulator(customers=2, invoices=5, limits=Limits(per_minute=2, per_day=None, concurrent=10)) as sb:
        token = authorize(sb).access_token
        url = f"{sb.url}/v3/company/{sb.realm_id}/customer/1"
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        statuses = [requests.get(url, headers=headers, timeout=10).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        answer = requests.get(url, headers=headers, timeout=10)
        root = etree.fromstring(answer.content)
        error = root.find("{*}Fault/{*}Error")
        assert root.find("{*}Fault").get("type") == "ThrottleExceeded"
        assert error is not None
        assert error.get("code") == "3001"
        assert int(answer.headers["Retry-After"]) >= 1
        counters = sb.limiter.tenants[sb.realm_id]
        assert (counters.served, counters.rejected["minute"]) == (2, 2)


def test_concurrent_requests_beyond_the_limit_are_throttled(monkeypatch: pytest.MonkeyPatch) -> None:
    with start_qbo_emulator(customers=2, invoices=5, limits=Limits(per_minute=100, per_day=None, concurrent=1)) as sb:
        token = authorize(sb).access_token
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        url = f"{sb.url}/v3/company/{sb.realm_id}/query"
        entered, release = threading.Event(), threading.Event()
        real_run = query_module.run

        def slow_run(*args: Any) -> Any:
            entered.set()
            release.wait(10)
            return real_run(*args)

        monkeypatch.setattr(query_module, "run", slow_run)
        first: list[int] = []
        worker = threading.Thread(target=lambda: first.append(
            requests.get(url, params={"query": "SELECT * FROM Customer"}, headers=headers, timeout=10).status_code))
        worker.start()
        assert entered.wait(10)
        second = requests.get(f"{sb.url}/v3/company/{sb.realm_id}/customer/1", headers=headers, timeout=10)
        release.set()
        worker.join(10)
        assert (first, second.status_code) == ([200], 429)
        assert sb.limiter.tenants[sb.realm_id].rejected["concurrent"] == 1
        assert sb.limiter.tenants[sb.realm_id].peak_in_flight == 1


def test_throttle_xml_validates_against_intuit_rest_service_def(specs: Any) -> None:
    import xmlschema

    from connectors.quickbooks.emulator import faults

    schema = xmlschema.XMLSchema(str(specs / "qbo" / "xsd" / "IntuitRestServiceDef.xsd"))
    assert schema.is_valid(faults.throttled("minute").to_xml())
    assert not schema.is_valid(faults.throttled("minute").to_xml().replace("<Message>", "<Msg>")
                               .replace("</Message>", "</Msg>"))


def test_lines_linking_one_invoice_may_not_together_exceed_its_balance(sandbox: QboSandbox, api: Any,
                                                                       open_invoice: dict[str, Any]) -> None:
    # Each line alone fits the balance; together they overpay it, which QBO refuses.
    part = (open_invoice["Balance"] / 2 + 1).quantize(Decimal("0.01"))
    link = {"Amount": str(part), "LinkedTxn": [{"TxnId": open_invoice["Id"], "TxnType": "Invoice"}]}
    answer = api.post("payment", {"CustomerRef": {"value": open_invoice["CustomerRef"]["value"]},
                                  "TotalAmt": str(part * 2), "Line": [link, link]})
    assert answer.status_code == 400
    assert answer.json()["Fault"]["Error"][0]["code"] == "6000"
    assert sandbox.store.entities["Invoice"][open_invoice["Id"]]["Balance"] == open_invoice["Balance"]


def test_two_lines_paying_one_invoice_link_the_payment_once(sandbox: QboSandbox, api: Any,
                                                            open_invoice: dict[str, Any]) -> None:
    link = {"Amount": "1.00", "LinkedTxn": [{"TxnId": open_invoice["Id"], "TxnType": "Invoice"}]}
    payment = api.post("payment", {"CustomerRef": {"value": open_invoice["CustomerRef"]["value"]},
                                   "TotalAmt": "2.00", "Line": [link, link]}).json()["Payment"]
    after = api.get(f"invoice/{open_invoice['Id']}").json()["Invoice"]
    assert Decimal(str(after["Balance"])) == open_invoice["Balance"] - 2
    assert after["LinkedTxn"].count({"TxnId": payment["Id"], "TxnType": "Payment"}) == 1


def _credit_memo(api: Any, customer_id: str, amount: str) -> dict[str, Any]:
    line = {"Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}
    memo: dict[str, Any] = api.post("creditmemo", {"CustomerRef": {"value": customer_id}, "Line": [line]}).json()
    return memo["CreditMemo"]


def test_credits_on_a_payment_may_not_exceed_the_charges_it_pays(sandbox: QboSandbox, api: Any,
                                                                 open_invoice: dict[str, Any]) -> None:
    # A $0 payment applying 50 of credit to a 10 invoice line would leave 40 "unapplied" that no money
    # backs; QBO refuses credits beyond the payment's invoice lines.
    customer_id = open_invoice["CustomerRef"]["value"]
    memo = _credit_memo(api, customer_id, "50.00")
    charge = min(open_invoice["Balance"], Decimal("10.00"))

    def lines(credit: Decimal) -> list[dict[str, Any]]:
        return [{"Amount": str(charge), "LinkedTxn": [{"TxnId": open_invoice["Id"], "TxnType": "Invoice"}]},
                {"Amount": str(credit), "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]}]

    refused = api.post("payment", {"CustomerRef": {"value": customer_id}, "TotalAmt": "0", "Line": lines(charge + 40)})
    assert refused.status_code == 400
    assert refused.json()["Fault"]["Error"][0]["code"] == "6000"
    assert sandbox.store.entities["CreditMemo"][memo["Id"]]["RemainingCredit"] == Decimal("50.00")
    assert sandbox.store.entities["Invoice"][open_invoice["Id"]]["Balance"] == open_invoice["Balance"]
    applied = api.post("payment", {"CustomerRef": {"value": customer_id}, "TotalAmt": "0", "Line": lines(charge)})
    assert applied.status_code == 200
    assert applied.json()["Payment"]["UnappliedAmt"] == 0


@pytest.mark.parametrize(("line", "code", "element"), [
    ({"Amount": 10, "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}, "2020", "Line.DetailType"),
    ({"Amount": 10, "DetailType": "SalesItemDetail"}, "2010", "Line.DetailType"),
    ({"Amount": 10, "DetailType": "AccountBasedExpenseLineDetail"}, "6000", "Line.DetailType"),
])
def test_sales_lines_need_a_valid_detail_type(api: Any, open_invoice: dict[str, Any], line: dict[str, Any],
                                              code: str, element: str) -> None:
    # QBO has no default DetailType, and refuses names outside LineDetailTypeEnum (or not for sales forms)
    # rather than guessing what the line means and how it counts towards TotalAmt.
    customer = {"value": open_invoice["CustomerRef"]["value"]}
    for kind in ("invoice", "creditmemo"):
        answer = api.post(kind, {"CustomerRef": customer, "Line": [line]})
        assert answer.status_code == 400
        error = answer.json()["Fault"]["Error"][0]
        assert (error["code"], error["element"]) == (code, element)


def test_bank_lines_need_a_detail_type(api: Any) -> None:
    answer = api.post("purchase", {"PaymentType": "Cash", "AccountRef": {"value": "35"},
                                   "Line": [{"Amount": 5, "AccountBasedExpenseLineDetail": {
                                       "AccountRef": {"value": "8"}}}]})
    assert answer.status_code == 400
    assert answer.json()["Fault"]["Error"][0]["code"] == "2020"


@pytest.mark.parametrize("missing", ["CustomerRef", "Line"])
def test_full_update_needs_the_required_fields(api: Any, open_invoice: dict[str, Any], missing: str) -> None:
    # A full update replaces the invoice, so it must carry what a create must; only a sparse one may omit them.
    current = api.get(f"invoice/{open_invoice['Id']}").json()["Invoice"]
    body = {"Id": current["Id"], "SyncToken": current["SyncToken"], "CustomerRef": current["CustomerRef"],
            "Line": current["Line"], "PrivateNote": "full"}
    del body[missing]
    answer = api.post("invoice", body)
    assert answer.status_code == 400
    error = answer.json()["Fault"]["Error"][0]
    assert (error["code"], error["element"]) == ("2020", missing)


def test_update_that_changes_lines_or_customer_is_refused_not_ignored(api: Any, sandbox: QboSandbox,
                                                                       open_invoice: dict[str, Any]) -> None:
    current = api.get(f"invoice/{open_invoice['Id']}").json()["Invoice"]
    repriced = [{**current["Line"][0], "Amount": current["Line"][0]["Amount"] + 1}]
    other = next(c["Id"] for c in sandbox.store.all("Customer") if c["Id"] != current["CustomerRef"]["value"])
    for change in ({"Line": repriced}, {"CustomerRef": {"value": other}}):
        answer = api.post("invoice", {"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True,
                                      **change})
        assert answer.status_code == 400
        assert answer.json()["Fault"]["Error"][0]["code"] == "6000"
    assert sandbox.store.entities["Invoice"][current["Id"]]["SyncToken"] == current["SyncToken"]


def test_payment_update_that_changes_the_amount_is_refused_not_ignored(api: Any, sandbox: QboSandbox,
                                                                        open_invoice: dict[str, Any]) -> None:
    payment = pay(api, open_invoice, "4.00").json()["Payment"]
    base = {"Id": payment["Id"], "SyncToken": payment["SyncToken"]}
    changed = api.post("payment", {**base, "sparse": True, "TotalAmt": "9.00"})
    assert (changed.status_code, changed.json()["Fault"]["Error"][0]["code"]) == (400, "6000")
    full = api.post("payment", {**base, "CustomerRef": payment["CustomerRef"], "Line": payment["Line"]})
    error = full.json()["Fault"]["Error"][0]
    assert (full.status_code, error["code"], error["element"]) == (400, "2020", "TotalAmt")
    assert sandbox.store.entities["Payment"][payment["Id"]]["TotalAmt"] == Decimal("4.00")


def test_line_amount_must_equal_unit_price_times_qty(api: Any, open_invoice: dict[str, Any]) -> None:
    def line(amount: str) -> dict[str, Any]:
        return {"Amount": amount, "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 3, "UnitPrice": "33.34"}}

    customer = {"value": open_invoice["CustomerRef"]["value"]}
    wrong = api.post("invoice", {"CustomerRef": customer, "Line": [line("120.00")]})
    assert (wrong.status_code, wrong.json()["Fault"]["Error"][0]["code"]) == (400, "6070")
    right = api.post("invoice", {"CustomerRef": customer, "Line": [line("100.02")]})
    assert right.json()["Invoice"]["TotalAmt"] == 100.02


def test_sdk_default_zero_qty_and_unit_price_leave_the_amount_alone(api: Any, open_invoice: dict[str, Any]) -> None:
    line = {"Amount": "7.50", "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 0, "UnitPrice": 0}}
    answer = api.post("invoice", {"CustomerRef": {"value": open_invoice["CustomerRef"]["value"]}, "Line": [line]})
    assert answer.json()["Invoice"]["TotalAmt"] == 7.5


def _sale(customer_id: str, **extra: Any) -> dict[str, Any]:
    return {"CustomerRef": {"value": customer_id}, "TxnDate": "2026-11-03",
            "Line": [{"Amount": 100, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}], **extra}


def test_invoices_carry_exchange_rate_home_per_foreign_unit(sandbox: QboSandbox, api: Any) -> None:
    seeded = sandbox.store.all("Invoice")
    assert all(i["ExchangeRate"] == day_rate(i["CurrencyRef"]["value"], "GBP", date.fromisoformat(i["TxnDate"]))
               for i in seeded)
    euro = api.post("customer", {"DisplayName": "Euro Kunde GmbH", "CurrencyRef": {"value": "EUR"}}).json()
    euro_id = euro["Customer"]["Id"]
    home_id = next(c["Id"] for c in sandbox.store.all("Customer") if c["CurrencyRef"]["value"] == "GBP")
    by_day = api.post("invoice", _sale(euro_id)).json()["Invoice"]
    assert Decimal(str(by_day["ExchangeRate"])) == day_rate("EUR", "GBP", date(2026, 11, 3)) < 1
    chosen = api.post("invoice", _sale(euro_id, ExchangeRate="0.8512345")).json()["Invoice"]
    assert Decimal(str(chosen["ExchangeRate"])) == Decimal("0.851235")
    home = api.post("invoice", _sale(home_id, ExchangeRate=3)).json()["Invoice"]
    assert home["ExchangeRate"] == 1  # the home currency is always 1


@pytest.mark.parametrize("rate", [0, "-1", "abc"])
def test_a_rate_that_is_not_positive_is_a_validation_fault(sandbox: QboSandbox, api: Any, rate: Any) -> None:
    euro = api.post("customer", {"DisplayName": "Euro Kunde GmbH", "CurrencyRef": {"value": "EUR"}}).json()
    before = len(sandbox.store.entities["Invoice"])
    refused = api.post("invoice", _sale(euro["Customer"]["Id"], ExchangeRate=rate))
    assert refused.status_code == 400, refused.text
    assert refused.json()["Fault"]["type"] == "ValidationFault"
    assert len(sandbox.store.entities["Invoice"]) == before
