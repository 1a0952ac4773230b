"""The official python-quickbooks objects round-trip against the emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.base import LinkedTxn, Ref
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.payment import Payment, PaymentLine

from addon.domain.types import TokenSet
from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.emulator.testing import QboSandbox


@pytest.fixture
def qb(connector: QuickBooksConnector) -> QuickBooks:
    return connector.sdk()


def _ref(value: str) -> Ref:
    ref = Ref()
    ref.value = value
    return ref


def _payment(customer_id: str, amount: Decimal, links: list[tuple[str, str, Decimal]]) -> Payment:
    payment = Payment()
    payment.CustomerRef = _ref(customer_id)
    payment.TotalAmt = amount
    for txn_type, txn_id, line_amount in links:
        line = PaymentLine()
        line.Amount = line_amount
        link = LinkedTxn()
        link.TxnId, link.TxnType = txn_id, txn_type
        line.LinkedTxn = [link]
        payment.Line.append(line)
    return payment


def test_invoice_filter_query_and_get(qb: QuickBooks, open_invoice: dict[str, Any]) -> None:
    customer = open_invoice["CustomerRef"]["value"]
    mine = Invoice.filter(CustomerRef=customer, qb=qb)
    assert mine
    assert {i.CustomerRef.value for i in mine} == {customer}
    unpaid = Invoice.query("SELECT * FROM Invoice WHERE Balance > '0' ORDERBY DueDate MAXRESULTS 1000", qb=qb)
    assert open_invoice["Id"] in {i.Id for i in unpaid}
    assert all(i.Balance > 0 for i in unpaid)
    assert [i.DueDate for i in unpaid] == sorted(i.DueDate for i in unpaid)
    one = Invoice.get(open_invoice["Id"], qb=qb)
    assert (one.DocNumber, one.Balance) == (open_invoice["DocNumber"], open_invoice["Balance"])
    assert Invoice.count("Balance > '0'", qb=qb) == len(unpaid)


def test_payment_save_applies_to_invoices_and_void_releases_it(qb: QuickBooks, sandbox: QboSandbox,
                                                                open_invoice: dict[str, Any]) -> None:
    amount = Decimal("4.25")
    saved = _payment(open_invoice["CustomerRef"]["value"], amount,
                     [("Invoice", open_invoice["Id"], amount)]).save(qb=qb, request_id="sdk-pay-1")
    assert saved.Id
    assert saved.TotalAmt == amount
    invoice = Invoice.get(open_invoice["Id"], qb=qb)
    assert invoice.Balance == open_invoice["Balance"] - amount
    assert int(invoice.SyncToken) == int(open_invoice["SyncToken"]) + 1
    fetched = Payment.get(saved.Id, qb=qb)
    fetched.PrivateNote = "received by BACS"
    updated = fetched.save(qb=qb)  # a full update through the SDK's own to_json
    assert (updated.PrivateNote, updated.SyncToken) == ("received by BACS", "1")
    updated.void(qb=qb)
    assert Invoice.get(open_invoice["Id"], qb=qb).Balance == open_invoice["Balance"]


def test_credit_memo_save_then_apply_through_a_payment(qb: QuickBooks, open_invoice: dict[str, Any]) -> None:
    memo = CreditMemo()
    memo.CustomerRef = _ref(open_invoice["CustomerRef"]["value"])
    line = SalesItemLine()
    line.Amount = Decimal("10.00")
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = _ref("1")
    memo.Line = [line]
    saved = memo.save(qb=qb)
    assert (saved.TotalAmt, saved.RemainingCredit) == (Decimal("10.00"), Decimal("10.00"))
    _payment(open_invoice["CustomerRef"]["value"], Decimal("0"),
             [("Invoice", open_invoice["Id"], Decimal("6.00")),
              ("CreditMemo", saved.Id, Decimal("6.00"))]).save(qb=qb)
    assert CreditMemo.get(saved.Id, qb=qb).RemainingCredit == Decimal("4.00")
    assert Invoice.get(open_invoice["Id"], qb=qb).Balance == open_invoice["Balance"] - Decimal("6.00")


def test_invoice_full_update_round_trip_and_stale_save(qb: QuickBooks, open_invoice: dict[str, Any]) -> None:
    first = Invoice.get(open_invoice["Id"], qb=qb)
    second = Invoice.get(open_invoice["Id"], qb=qb)
    first.PrivateNote = "edited in QBO"
    saved = first.save(qb=qb)
    assert saved.PrivateNote == "edited in QBO"
    assert saved.TotalAmt == open_invoice["TotalAmt"]
    second.PrivateNote = "edited elsewhere"
    with pytest.raises(QuickbooksException) as info:
        second.save(qb=qb)
    assert info.value.error_code == 5010


def test_customer_and_invoice_create(qb: QuickBooks) -> None:
    customer = Customer()
    customer.DisplayName = "Brand New Ltd"
    created = Customer.get(customer.save(qb=qb).Id, qb=qb)
    invoice = Invoice()
    invoice.CustomerRef = created.to_ref()
    line = SalesItemLine()
    line.Amount = Decimal("99.95")
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = _ref("1")
    invoice.Line = [line]
    saved = invoice.save(qb=qb)
    assert (saved.TotalAmt, saved.Balance, saved.EmailStatus) == (Decimal("99.95"), Decimal("99.95"), "NotSet")
    customer.Id = None
    with pytest.raises(QuickbooksException) as info:
        customer.save(qb=qb)
    assert info.value.error_code == 6240  # duplicate DisplayName


def test_change_data_capture_objects(qb: QuickBooks, open_invoice: dict[str, Any]) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    _payment(open_invoice["CustomerRef"]["value"], Decimal("1.00"),
             [("Invoice", open_invoice["Id"], Decimal("1.00"))]).save(qb=qb)
    response = change_data_capture([Invoice, Payment], since.strftime("%Y-%m-%dT%H:%M:%S+00:00"), qb=qb)
    assert [i.Id for i in response.Invoice] == [open_invoice["Id"]]
    assert len(response.Payment) == 1
    assert response.Payment[0].TotalAmt == Decimal("1.00")


def test_stock_sdk_setup_refreshes_in_the_constructor(sandbox: QboSandbox, tokens: TokenSet,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # The documented way to use python-quickbooks: an AuthClient without an access token makes the
    # QuickBooks constructor refresh (rotating the refresh token); plain HTTP needs this variable.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    auth = AuthClient(sandbox.client_id, sandbox.client_secret, sandbox.redirect_uri, sandbox.discovery_url)
    client = QuickBooks(auth_client=auth, refresh_token=tokens.refresh_token, company_id=sandbox.realm_id,
                        minorversion=75)
    client.api_url_v3 = f"{sandbox.url}/v3"
    assert client.refresh_token != tokens.refresh_token
    assert len(Customer.all(qb=client)) == len(sandbox.store.entities["Customer"])
