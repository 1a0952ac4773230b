"""The emulated company's chart of accounts: a slice of a QBO sandbox company's accounts.

Ids follow the QBO sandbox (Checking is 35, which seeded payments are deposited to). Bank accounts keep a
``CurrentBalance`` that payments, purchases and deposits move, so tests can see what a bank line did.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.quickbooks.emulator import faults
from connectors.quickbooks.emulator.store import Entity, QboStore

CHECKING = "35"
UNDEPOSITED_FUNDS = "4"
BANK_CHARGES = "8"
EXCHANGE_GAIN_OR_LOSS = "94"

# Id, Name, AccountType, AccountSubType
CHART = (
    (CHECKING, "Checking", "Bank", "Checking"),
    ("36", "Savings", "Bank", "Savings"),
    (UNDEPOSITED_FUNDS, "Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("84", "Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    ("1", "Services", "Income", "ServiceFeeIncome"),
    (BANK_CHARGES, "Bank Charges", "Expense", "BankCharges"),
    # QBO creates this account when multicurrency is switched on; FX differences of payments go here.
    (EXCHANGE_GAIN_OR_LOSS, "Exchange Gain or Loss", "Other Expense", "ExchangeGainOrLoss"),
)
DEPOSIT_ACCOUNT_TYPES = ("Bank", "Other Current Asset")  # where received money can be deposited
_CLASSIFICATION = {"Bank": "Asset", "Other Current Asset": "Asset", "Accounts Receivable": "Asset",
                   "Income": "Revenue", "Expense": "Expense", "Other Expense": "Expense"}


def seed_chart(store: QboStore) -> None:
    """Add the chart of accounts (no webhooks: it exists before anyone subscribes)."""
    for account_id, name, kind, subtype in CHART:
        account: Entity = {"Id": account_id, "Name": name, "FullyQualifiedName": name, "AccountType": kind,
                           "AccountSubType": subtype, "Classification": _CLASSIFICATION[kind], "Active": True,
                           "SubAccount": False, "CurrentBalance": Decimal("0"),
                           "CurrencyRef": {"value": store.currency}}
        store.insert("Account", account, notify=False)


def move_balance(store: QboStore, account_id: str, delta: Decimal) -> None:
    """Add ``delta`` to an account's CurrentBalance (QBO derives it; no SyncToken change)."""
    account = store.entities["Account"].get(account_id)
    if account is not None:
        account["CurrentBalance"] += delta


def account(store: QboStore, ref: Any, element: str, types: tuple[str, ...] | None = None) -> Entity:
    """The active account a ReferenceType names, optionally of one of ``types``."""
    if not isinstance(ref, dict) or not ref.get("value"):
        raise faults.required(element)
    found = store.entities["Account"].get(str(ref["value"]))
    if found is None or not found["Active"]:
        raise faults.validation("Invalid Reference Id", f"Invalid Reference Id : Accounts element id "
                                f"{ref['value']} not found", "2500", element)
    if types is not None and found["AccountType"] not in types:
        raise faults.validation("Business Validation Error", f"{element} must be an account of type "
                                f"{' or '.join(types)}; {found['Name']} is {found['AccountType']}", "6000", element)
    return found
