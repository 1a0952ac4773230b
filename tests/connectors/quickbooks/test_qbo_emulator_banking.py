"""Purchase and Deposit on the QBO emulator over raw HTTP: what QBO accepts, what it rejects, and how the
bank account's CurrentBalance moves (payments in, purchases out, deposits in)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connectors.quickbooks.emulator.chart import BANK_CHARGES, CHECKING, EXCHANGE_GAIN_OR_LOSS
from connectors.quickbooks.emulator.testing import QboSandbox


def balance(sandbox: QboSandbox, account_id: str = CHECKING) -> Decimal:
    return Decimal(str(sandbox.store.entities["Account"][account_id]["CurrentBalance"]))


def purchase(amount: str = "7.50", account: str = BANK_CHARGES, **overrides: Any) -> dict[str, Any]:
    body = {"PaymentType": "Cash", "AccountRef": {"value": CHECKING}, "TxnDate": "2026-11-02",
            "Line": [{"Amount": amount, "DetailType": "AccountBasedExpenseLineDetail",
                      "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account}}}]}
    return {**body, **overrides}


def deposit(amount: str = "15.00", account: str = EXCHANGE_GAIN_OR_LOSS, **overrides: Any) -> dict[str, Any]:
    body = {"DepositToAccountRef": {"value": CHECKING}, "TxnDate": "2026-11-02",
            "Line": [{"Amount": amount, "DetailType": "DepositLineDetail",
                      "DepositLineDetail": {"AccountRef": {"value": account}}}]}
    return {**body, **overrides}


def fault(answer: Any) -> tuple[int, str, str | None]:
    error = answer.json()["Fault"]["Error"][0]
    return answer.status_code, error["code"], error.get("element")


def test_chart_of_accounts_is_queryable(api: Any) -> None:
    accounts = api.query("SELECT * FROM Account").json()["QueryResponse"]["Account"]
    by_id = {a["Id"]: a for a in accounts}
    assert by_id[CHECKING]["AccountType"] == "Bank"
    assert by_id[BANK_CHARGES]["Name"] == "Bank Charges"
    assert by_id[EXCHANGE_GAIN_OR_LOSS]["AccountSubType"] == "ExchangeGainOrLoss"


def test_purchase_takes_money_out_of_the_bank(sandbox: QboSandbox, api: Any) -> None:
    before = balance(sandbox)
    answer = api.post("purchase", purchase(TotalAmt=0))  # python-quickbooks sends 0: QBO sums the lines
    assert answer.status_code == 200, answer.text
    saved = answer.json()["Purchase"]
    assert saved["TotalAmt"] == 7.5
    assert saved["AccountRef"]["value"] == CHECKING
    assert saved["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"]["name"] == "Bank Charges"
    assert balance(sandbox) == before - Decimal("7.50")
    assert api.get(f"purchase/{saved['Id']}").json()["Purchase"]["TotalAmt"] == 7.5


def test_deposit_puts_money_into_the_bank(sandbox: QboSandbox, api: Any) -> None:
    before = balance(sandbox)
    answer = api.post("deposit", deposit())
    assert answer.status_code == 200, answer.text
    assert answer.json()["Deposit"]["TotalAmt"] == 15.0
    assert balance(sandbox) == before + Decimal("15.00")


@pytest.mark.parametrize(("body", "code", "element"), [
    (purchase(account="999"), "2500", "Line.AccountBasedExpenseLineDetail.AccountRef"),  # unknown account
    (purchase(AccountRef={"value": BANK_CHARGES}), "6000", "AccountRef"),  # pays from an expense account
    (purchase(AccountRef=None), "2020", "AccountRef"),
    (purchase(PaymentType=""), "2020", "PaymentType"),
    (purchase(PaymentType="Barter"), "2010", "PaymentType"),
    (purchase(Line=[]), "2020", "Line"),
    (purchase(amount="0"), "6000", "Line.Amount"),
    (deposit(account="999"), "2500", "Line.DepositLineDetail.AccountRef"),
    (deposit(DepositToAccountRef={"value": BANK_CHARGES}), "6000", "DepositToAccountRef"),
    (deposit(DepositToAccountRef=None), "2020", "DepositToAccountRef"),
])
def test_invalid_purchases_and_deposits_are_rejected(sandbox: QboSandbox, api: Any, body: dict[str, Any],
                                                     code: str, element: str) -> None:
    before = balance(sandbox)
    answer = api.post("purchase" if "PaymentType" in body else "deposit", body)
    assert fault(answer) == (400, code, element)
    assert balance(sandbox) == before
    assert not sandbox.store.entities["Purchase"]
    assert not sandbox.store.entities["Deposit"]


def test_payment_deposits_its_total_with_the_unapplied_part(sandbox: QboSandbox, api: Any,
                                                            open_invoice: dict[str, Any]) -> None:
    before = balance(sandbox)
    body = {"CustomerRef": {"value": open_invoice["CustomerRef"]["value"]}, "TotalAmt": "30.00",
            "DepositToAccountRef": {"value": CHECKING},
            "Line": [{"Amount": "10.00", "LinkedTxn": [{"TxnId": open_invoice["Id"], "TxnType": "Invoice"}]}]}
    saved = api.post("payment", body).json()["Payment"]
    assert (saved["TotalAmt"], saved["UnappliedAmt"]) == (30.0, 20.0)
    assert balance(sandbox) == before + Decimal("30.00")
    assert api.post("payment", {**body, "DepositToAccountRef": {"value": "999"}}).status_code == 400


def test_requestid_replays_a_purchase(sandbox: QboSandbox, api: Any) -> None:
    first = api.post("purchase", purchase(), requestid="fee-once")
    second = api.post("purchase", purchase(), requestid="fee-once")
    assert first.content == second.content
    assert len(sandbox.store.entities["Purchase"]) == 1
