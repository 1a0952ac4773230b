"""NewBankTransaction -> python-quickbooks objects, and back (pure; no I/O).

QBO has no "bank transaction" entity: money out of a bank account straight to an expense is a
``Purchase`` (PaymentType Cash, AccountRef = the bank account, one AccountBasedExpenseLineDetail line),
money in from an income or gain account is a ``Deposit`` (DepositToAccountRef = the bank account, one
DepositLineDetail line naming the source account).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from quickbooks.objects.base import Ref
from quickbooks.objects.deposit import Deposit, DepositLine, DepositLineDetail
from quickbooks.objects.detailline import AccountBasedExpenseLine, AccountBasedExpenseLineDetail
from quickbooks.objects.purchase import Purchase

from addon.domain.types import BankTransaction, BankTransactionKind, NewBankTransaction
from connectors.quickbooks.mapping import money, parse_date, ref

MAX_DOC_NUMBER = 21


def _ref(value: str, kind: str | None = None) -> Ref:
    out = Ref()
    out.value = value
    if kind:
        out.type = kind
    return out


def _describe(obj: Purchase | Deposit, txn: NewBankTransaction) -> None:
    obj.TxnDate = txn.date.isoformat()
    obj.PrivateNote = txn.description[:4000]
    obj.DocNumber = (txn.reference or "")[:MAX_DOC_NUMBER]


def _amount(line: AccountBasedExpenseLine | DepositLine, txn: NewBankTransaction) -> None:
    line.Amount = txn.amount
    line.Description = txn.description[:4000]


def purchase(txn: NewBankTransaction, bank_account: str) -> Purchase:
    """A cash Purchase out of ``bank_account``, expensed to ``txn.account_code``."""
    obj = Purchase()
    _describe(obj, txn)
    obj.PaymentType = "Cash"
    obj.AccountRef = _ref(bank_account)
    obj.EntityRef = _ref(txn.contact_id, "Customer")
    line = AccountBasedExpenseLine()
    _amount(line, txn)
    line.AccountBasedExpenseLineDetail = AccountBasedExpenseLineDetail()
    line.AccountBasedExpenseLineDetail.AccountRef = _ref(txn.account_code)
    obj.Line = [line]
    return obj


def deposit(txn: NewBankTransaction, bank_account: str) -> Deposit:
    """A Deposit into ``bank_account`` from ``txn.account_code``."""
    obj = Deposit()
    _describe(obj, txn)
    obj.DepositToAccountRef = _ref(bank_account)
    line = DepositLine()
    _amount(line, txn)
    line.DepositLineDetail = DepositLineDetail()
    line.DepositLineDetail.AccountRef = _ref(txn.account_code)
    line.DepositLineDetail.Entity = _ref(txn.contact_id, "CUSTOMER")
    obj.Line = [line]
    return obj


def to_bank_transaction(saved: dict[str, Any], home_currency: str) -> BankTransaction:
    """A saved Purchase or Deposit -> BankTransaction."""
    is_purchase = "PaymentType" in saved
    detail = "AccountBasedExpenseLineDetail" if is_purchase else "DepositLineDetail"
    lines = saved.get("Line") or [{}]
    contact = ref(saved, "EntityRef") if is_purchase else ref(lines[0].get(detail) or {}, "Entity")
    return BankTransaction(
        remote_id=str(saved["Id"]), kind=BankTransactionKind.SPEND if is_purchase else BankTransactionKind.RECEIVE,
        contact_id=contact, date=parse_date(saved.get("TxnDate")) or date(1970, 1, 1),
        currency=ref(saved, "CurrencyRef") or home_currency, amount=money(saved.get("TotalAmt")),
        account_code=ref(lines[0].get(detail) or {}, "AccountRef") or "",
        bank_account_code=ref(saved, "AccountRef" if is_purchase else "DepositToAccountRef") or "")
