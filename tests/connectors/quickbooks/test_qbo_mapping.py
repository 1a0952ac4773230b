"""Pure mapping and fault translation: QBO JSON/XML and SDK exceptions -> domain types and typed errors."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from quickbooks import exceptions as qb_exc

from addon.domain.types import Allocation, InvoiceStatus
from connectors.errors import (
    AuthError,
    ConflictError,
    ConnectorError,
    NotFoundError,
    RateLimitedError,
    ValidationError,
)
from connectors.quickbooks import faults, mapping
from connectors.quickbooks.emulator import faults as emulator_faults

INVOICE = {"Id": "130", "DocNumber": "1037", "TxnDate": "2026-10-02", "DueDate": "2026-11-01",
           "TotalAmt": Decimal("362.07"), "Balance": Decimal("100.00"), "EmailStatus": "EmailSent",
           "CustomerRef": {"value": "3", "name": "Acme"}, "CurrencyRef": {"value": "USD"},
           "BillEmail": {"Address": "ap@acme.example"}, "PrivateNote": "called",
           "MetaData": {"CreateTime": "2026-10-02T09:00:00-07:00", "LastUpdatedTime": "2026-10-05T10:00:00-07:00"}}


def test_invoice_mapping() -> None:
    invoice = mapping.to_invoice(INVOICE, "GBP")
    assert (invoice.remote_id, invoice.number, invoice.contact_id, invoice.currency) == ("130", "1037", "3", "USD")
    assert (invoice.issue_date, invoice.due_date) == (date(2026, 10, 2), date(2026, 11, 1))
    assert (invoice.total, invoice.amount_due, invoice.amount_paid) == (
        Decimal("362.07"), Decimal("100.00"), Decimal("262.07"))
    assert invoice.status is InvoiceStatus.OPEN
    assert invoice.sent
    assert invoice.billing_email == "ap@acme.example"
    assert invoice.note == "called"
    assert invoice.updated_at == datetime(2026, 10, 5, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(("rate", "home_rate"), [
    (Decimal("0.787402"), Decimal("0.787402")),  # already home currency per foreign unit: kept as is
    ("1.27", Decimal("1.27")), (1, Decimal("1")),
    (None, None), (0, None), ("-1", None), ("n/a", None),  # absent or unusable: none invented
])
def test_invoice_exchange_rate(rate: object, home_rate: Decimal | None) -> None:
    raw = {**INVOICE, "ExchangeRate": rate} if rate is not None else INVOICE
    assert mapping.to_invoice(raw, "GBP").home_rate == home_rate


def test_home_currency_from_preferences() -> None:
    prefs = {"CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "USD"}}}
    assert mapping.home_currency_of(prefs) == "USD"
    assert mapping.home_currency_of({}) is None


@pytest.mark.parametrize(("changes", "status"), [
    ({"Balance": 0}, InvoiceStatus.PAID),
    ({"Balance": "0", "TotalAmt": 0, "PrivateNote": "Voided"}, InvoiceStatus.VOIDED),
    ({"Balance": 0, "TotalAmt": 0, "PrivateNote": ""}, InvoiceStatus.PAID),  # a zero invoice owes nothing
])
def test_invoice_status(changes: dict[str, object], status: InvoiceStatus) -> None:
    assert mapping.to_invoice({**INVOICE, **changes}, "GBP").status is status


def test_payments_and_credit_applications() -> None:
    payment = {"Id": "9", "TxnDate": "2026-11-02", "TotalAmt": 120, "UnappliedAmt": "20.00",
               "CustomerRef": {"value": "3"}, "PaymentRefNum": "BACS",
               "Line": [{"Amount": 100, "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]}]}
    mapped = mapping.to_payment(payment, "GBP")
    assert mapped.allocations == (Allocation("130", Decimal("100.00")),)
    assert (mapped.amount, mapped.unapplied_amount, mapped.currency) == (Decimal("120.00"), Decimal("20.00"), "GBP")
    assert not mapping.is_credit_application(payment)
    credit = {**payment, "TotalAmt": 0, "Line": [
        {"Amount": 5, "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]},
        {"Amount": 5, "LinkedTxn": [{"TxnId": "131", "TxnType": "CreditMemo"}]}]}
    assert mapping.is_credit_application(credit)
    assert mapping.to_payment({"Id": "9", "status": "Deleted"}, "GBP").deleted


def test_contact_from_the_spec_cdc_example(specs: Path) -> None:
    example = json.loads((specs / "qbo" / "cdc_responses_example.json").read_text())
    customer = example["cdc_json_response"]["CDCResponse"][0]["QueryResponse"][0]["Customer"][0]
    contact = mapping.to_contact(customer)
    assert (contact.remote_id, contact.name, contact.emails, contact.archived) == ("1", "TestCustomer", (), False)


def test_risk_field_definition_reads_qbo_preferences_shape() -> None:
    def pair(n: str, name: str, used: bool) -> dict[str, object]:
        return {"CustomField": [
            {"Name": f"SalesFormsPrefs.UseSalesCustom{n}", "Type": "BooleanType", "BooleanValue": used},
            {"Name": f"SalesFormsPrefs.SalesCustomName{n}", "Type": "StringType", "StringValue": name}]}

    prefs = {"SalesFormsPrefs": {"CustomField": [pair("1", "PO", True), pair("2", "Cashline Risk", True),
                                                 pair("3", "Old Risk", False)]}}
    assert mapping.risk_field_definition(prefs, "cashline risk") == "2"
    assert mapping.risk_field_definition(prefs, "Old Risk") is None  # defined but switched off
    assert mapping.risk_field_definition({}, "Cashline Risk") is None


def test_fault_bodies_parse_from_json_and_xml() -> None:
    fault = emulator_faults.throttled("minute")
    for body in (fault.to_xml(), json.dumps(fault.to_json())):
        fault_type, errors = faults.parse_fault(body)
        assert fault_type == "ThrottleExceeded"
        assert errors[0]["code"] == "3001"
        assert "ThrottleExceeded" in errors[0]["Message"]
    assert faults.parse_fault("<html>gateway</html>") == (None, [])
    assert faults.parse_fault("not a body") == (None, [])


@pytest.mark.parametrize(("exc", "expected"), [
    (qb_exc.AuthorizationException("auth", 100), AuthError),
    (qb_exc.ObjectNotFoundException("gone", 610), NotFoundError),
    (qb_exc.QuickbooksException("Stale Object Error", 5010), ConflictError),
    (qb_exc.ValidationException("Required param missing", 2020), ValidationError),
    (qb_exc.QuickbooksException("Business Validation Error", 6000), ValidationError),
    (qb_exc.ValidationException("throttled", 3001), RateLimitedError),
    (qb_exc.QuickbooksException("Error reading json response: <xml/>", 10000), ConnectorError),
])
def test_sdk_exceptions_become_typed_errors(exc: qb_exc.QuickbooksException, expected: type) -> None:
    assert type(faults.error_for_sdk(exc)) is expected


@pytest.mark.parametrize(("company_info", "country"), [
    ({"Country": "US"}, "US"),
    ({"Country": "ca"}, "CA"),
    ({"Country": "United Kingdom"}, "GB"),  # documented as a country name
    ({"Country": "", "CompanyAddr": {"Country": "USA"}}, "US"),  # the address, as typed
    ({"LegalAddr": {"Country": "Australia"}}, "AU"),
    ({"Country": "Narnia", "CompanyAddr": {"Country": "Canada"}}, "CA"),
    ({"Country": "ZZ"}, None),  # not a country: no holidays guessed from it
    ({}, None),
])
def test_country_from_company_info(company_info, country) -> None:
    assert mapping.country_of(company_info) == country


def test_a_payment_with_a_credit_memo_line_splits_into_money_and_dated_credit() -> None:
    """60 of money and a 40 memo on a 100 invoice: the payment allocates 60, the memo 40 dated by the payment."""
    from addon.domain.types import Allocation, AppliedCredit
    from connectors.quickbooks import mapping as m

    payment = {"Id": "9", "TxnDate": "2026-07-15", "TotalAmt": "60", "Line": [
        {"Amount": "100", "LinkedTxn": [{"TxnId": "5", "TxnType": "Invoice"}]},
        {"Amount": "40", "LinkedTxn": [{"TxnId": "7", "TxnType": "CreditMemo"}]}]}
    assert m.to_payment(payment, "USD").allocations == (Allocation("5", Decimal("60.00")),)
    application = m.to_credit_application(payment)
    assert application is not None
    assert (application.remote_id, application.date, application.deleted) == ("9", date(2026, 7, 15), False)
    assert application.credits == (AppliedCredit("7", "5", Decimal("40.00")),)
    voided = {**payment, "TotalAmt": "0", "Line": [], "PrivateNote": "Voided"}
    assert m.to_credit_application(voided) == m.CreditApplication("9", date(2026, 7, 15), (), deleted=True)
    assert m.to_credit_application({**payment, "Line": payment["Line"][:1]}) is None  # plain payment
