"""Money that moves without an invoice: Purchase (money out of a bank account, e.g. bank charges) and
Deposit (money into one, e.g. an exchange gain), validated the way QBO validates them.

A Purchase must name its bank (Cash/Check) or credit-card (CreditCard) account in AccountRef and have
at least one AccountBasedExpenseLineDetail line; a Deposit must name the account it deposits to and have
lines whose DepositLineDetail.AccountRef says where the money comes from. Every referenced account must
exist and be active (error 2500 otherwise), and the totals are computed from the lines: QBO ignores a
TotalAmt that disagrees (python-quickbooks always sends 0).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.quickbooks.emulator import faults
from connectors.quickbooks.emulator.chart import DEPOSIT_ACCOUNT_TYPES, account, move_balance
from connectors.quickbooks.emulator.store import Entity, QboStore
from connectors.quickbooks.emulator.values import LINE_DETAIL_TYPES, money, parse_date
from connectors.quickbooks.emulator.values import detail_type as detail_type_of

ZERO = Decimal("0")
PAYMENT_ACCOUNT_TYPES = {"Cash": ("Bank",), "Check": ("Bank",), "CreditCard": ("Credit Card",)}


def _ref(entity: Entity) -> Entity:
    return {"value": entity["Id"], "name": entity.get("Name") or entity.get("DisplayName")}


def _lines(store: QboStore, raw: Any, detail_type: str) -> list[Entity]:
    if not isinstance(raw, list) or not raw:
        raise faults.required("Line")
    lines = []
    for n, line in enumerate(raw, start=1):
        if detail_type_of(line, LINE_DETAIL_TYPES) != detail_type or line.get("LinkedTxn"):
            raise faults.validation("Business Validation Error", f"Line {n}: only {detail_type} lines are "
                                    "supported by this emulator", "6000", "Line.DetailType")
        detail = line.get(detail_type) or {}
        target = account(store, detail.get("AccountRef"), f"Line.{detail_type}.AccountRef")
        amount = money(line.get("Amount"), "Line.Amount")
        if amount <= 0:
            raise faults.validation("Business Validation Error", f"Line {n}: Amount must be positive", "6000",
                                    "Line.Amount")
        lines.append({"Id": str(n), "LineNum": n, "Description": line.get("Description") or "",
                      "Amount": amount, "DetailType": detail_type,
                      detail_type: {"AccountRef": _ref(target)}})
    return lines


def _entity_ref(store: QboStore, body: Entity, element: str) -> Entity | None:
    ref = body.get(element)
    if not isinstance(ref, dict) or not ref.get("value"):
        return None
    return _ref(store.get("Customer", str(ref["value"])))


def _transaction(store: QboStore, body: Entity, lines: list[Entity]) -> Entity:
    txn: Entity = {"TxnDate": parse_date(body.get("TxnDate"), "TxnDate") or store.clock().date().isoformat(),
                   "CurrencyRef": body.get("CurrencyRef") or {"value": store.currency},
                   "Line": lines, "TotalAmt": sum((line["Amount"] for line in lines), ZERO)}
    for key in ("PrivateNote", "DocNumber"):
        if body.get(key):
            txn[key] = str(body[key])
    return txn


def create_purchase(store: QboStore, body: Entity) -> Entity:
    """Money out of a bank or credit-card account, expensed to the lines' accounts."""
    with store.lock:
        payment_type = body.get("PaymentType") or ""
        if payment_type not in PAYMENT_ACCOUNT_TYPES:
            raise faults.required("PaymentType") if not payment_type else faults.validation(
                "Invalid Enumeration", f"PaymentType {payment_type!r} is not Cash, Check or CreditCard",
                "2010", "PaymentType")
        source = account(store, body.get("AccountRef"), "AccountRef", PAYMENT_ACCOUNT_TYPES[payment_type])
        purchase = _transaction(store, body, _lines(store, body.get("Line"), "AccountBasedExpenseLineDetail"))
        purchase.update(PaymentType=payment_type, AccountRef=_ref(source), Credit=False)
        if entity := _entity_ref(store, body, "EntityRef"):
            purchase["EntityRef"] = {**entity, "type": "Customer"}
        move_balance(store, source["Id"], -purchase["TotalAmt"])
        return store.insert("Purchase", purchase)


def create_deposit(store: QboStore, body: Entity) -> Entity:
    """Money into a bank (or other current asset) account, from the lines' accounts."""
    with store.lock:
        target = account(store, body.get("DepositToAccountRef"), "DepositToAccountRef", DEPOSIT_ACCOUNT_TYPES)
        deposit = _transaction(store, body, _lines(store, body.get("Line"), "DepositLineDetail"))
        deposit["DepositToAccountRef"] = _ref(target)
        for raw, line in zip(body["Line"], deposit["Line"], strict=True):
            if entity := _entity_ref(store, raw.get("DepositLineDetail") or {}, "Entity"):
                line["DepositLineDetail"]["Entity"] = {**entity, "type": "CUSTOMER"}
        move_balance(store, target["Id"], deposit["TotalAmt"])
        return store.insert("Deposit", deposit)
