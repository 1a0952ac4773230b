"""The codes the emulator's faults carry are the ones QBO sends (Intuit's error-code list, or a real response
quoted in an SDK issue), so python-quickbooks raises the same exception class and the connector the same
typed error as against production: a money field that is not a number is 2010 (QBO's JSON reader fails
before any 2080-2140 check; node-quickbooks#39), a bad CDC changedSince 2060 Invalid Date Format, an unknown
custom field 3000 — never 2030, which is Invalid ID."""

from __future__ import annotations

from typing import Any

import pytest
from quickbooks import exceptions as qb_exc
from quickbooks.cdc import change_data_capture
from quickbooks.objects.base import Ref
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice

from connectors.errors import ValidationError
from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.emulator.testing import QboSandbox
from tests.connectors.quickbooks.helpers import customer_id, fault


def invoice_with_amount(customer: str, amount: Any) -> Invoice:
    ref = Ref()
    ref.value = customer
    line = SalesItemLine()
    line.Amount = amount
    line.SalesItemLineDetail = SalesItemLineDetail()
    invoice = Invoice()
    invoice.CustomerRef = ref
    invoice.Line = [line]
    return invoice


def sdk_error(exc: ValidationError) -> qb_exc.QuickbooksException:
    cause = exc.__cause__
    assert isinstance(cause, qb_exc.QuickbooksException)
    return cause


@pytest.mark.parametrize("amount", ["ten", "NaN", "Infinity", True, {"value": 1}])
def test_an_amount_that_is_not_a_number_is_2010(sandbox: QboSandbox, api: Any, amount: Any) -> None:
    before = len(sandbox.store.all("Invoice"))
    error = fault(api.post("invoice", {"CustomerRef": {"value": customer_id(sandbox)}, "Line": [
        {"Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]}))
    assert (error["code"], error["Message"], error["element"]) == (
        "2010", "Request has invalid or unsupported property", "Line.Amount")
    assert error["Detail"].startswith("Property Name:Can not construct instance of java.math.BigDecimal")
    assert len(sandbox.store.all("Invoice")) == before


def test_payment_total_that_is_not_a_number_is_2010(sandbox: QboSandbox, api: Any) -> None:
    error = fault(api.post("payment", {"CustomerRef": {"value": customer_id(sandbox)}, "TotalAmt": "lots"}))
    assert (error["code"], error["element"]) == ("2010", "TotalAmt")


def test_a_missing_line_amount_is_2020(sandbox: QboSandbox, api: Any) -> None:
    error = fault(api.post("invoice", {"CustomerRef": {"value": customer_id(sandbox)}, "Line": [
        {"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]}))
    assert (error["code"], error["element"]) == ("2020", "Line.Amount")


def test_an_amount_too_large_to_hold_is_2140(sandbox: QboSandbox, api: Any) -> None:
    error = fault(api.post("invoice", {"CustomerRef": {"value": customer_id(sandbox)}, "Line": [
        {"Amount": "1E+40", "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]}))
    assert (error["code"], error["Message"], error["element"]) == ("2140", "Invalid Amount", "Line.Amount")


@pytest.mark.parametrize("since", ["yesterday", "2026-13-45T00:00:00Z", "12345"])
def test_a_bad_changed_since_is_2060(api: Any, since: str) -> None:
    error = fault(api.get("cdc", entities="Invoice", changedSince=since))
    assert (error["code"], error["Message"], error["element"]) == ("2060", "Invalid Date Format", "changedSince")


def test_an_unknown_custom_field_is_3000(sandbox: QboSandbox, api: Any) -> None:
    error = fault(api.post("invoice", {"CustomerRef": {"value": customer_id(sandbox)}, "Line": [
        {"Amount": 5, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}],
        "CustomField": [{"DefinitionId": "99", "StringValue": "x", "Type": "StringType"}]}))
    assert (error["code"], error["Message"], error["element"]) == ("3000", "Invalid Custom Field", "CustomField")


def test_sdk_and_connector_see_a_validation_error_for_a_bad_amount(sandbox: QboSandbox,
                                                                   connector: QuickBooksConnector) -> None:
    bad = invoice_with_amount(customer_id(sandbox), "ten")
    with pytest.raises(ValidationError) as err:
        connector.client.call(lambda qb: bad.save(qb=qb))
    cause = sdk_error(err.value)
    assert type(cause) is qb_exc.ValidationException  # python-quickbooks: 2000-4999
    assert cause.error_code == 2010
    assert "java.math.BigDecimal" in str(err.value)


def test_sdk_and_connector_see_a_validation_error_for_a_bad_changed_since(connector: QuickBooksConnector) -> None:
    with pytest.raises(ValidationError) as err:
        connector.client.call(lambda qb: change_data_capture([Invoice], "not-a-date", qb=qb))
    cause = sdk_error(err.value)
    assert type(cause) is qb_exc.ValidationException
    assert (cause.error_code, cause.message) == (2060, "Invalid Date Format")
