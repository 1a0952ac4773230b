"""The company's business rules: what creating, updating, voiding and deleting each entity does.

Payments are the interesting part: each Line links an Invoice (reducing its Balance) or a CreditMemo
(drawing on its RemainingCredit); what is left of TotalAmt is UnappliedAmt. Every linked transaction's
SyncToken moves, exactly the behaviour that makes stale updates (5010) happen against real QBO.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from connectors.quickbooks.emulator import faults
from connectors.quickbooks.emulator.chart import DEPOSIT_ACCOUNT_TYPES, UNDEPOSITED_FUNDS, account, move_balance
from connectors.quickbooks.emulator.store import Entity, QboStore
from connectors.quickbooks.emulator.values import (
    money,
    money_exact,
    parse_date,
    priced,
    ref_id,
    sales_lines,
)
from connectors.sandbox.fx import NoRateError, day_rate, quantize_rate

ZERO = Decimal("0")
MAX_PRIVATE_NOTE = 4000
MAX_CUSTOM_FIELD_VALUE = 31
INVOICE_WRITABLE = ("PrivateNote", "CustomerMemo", "CustomField", "DueDate", "EmailStatus", "BillEmail",
                    "DocNumber", "TxnDate")
PAYMENT_WRITABLE = ("PrivateNote", "PaymentRefNum", "TxnDate")
CUSTOMER_WRITABLE = ("DisplayName", "CompanyName", "PrimaryEmailAddr", "PrimaryPhone", "Mobile", "Active",
                     "Notes")


# --- customers -----------------------------------------------------------------------------------
def create_customer(store: QboStore, body: Entity) -> Entity:
    """Create a Customer; DisplayName is required and unique."""
    name = body.get("DisplayName") or ""
    if not name:
        raise faults.required("DisplayName")
    with store.lock:
        _unique_name(store, name, None)
        customer: Entity = {"DisplayName": name, "CompanyName": body.get("CompanyName") or name,
                            "Active": True, "Balance": ZERO,
                            "CurrencyRef": body.get("CurrencyRef") or {"value": store.currency}}
        for key in ("PrimaryEmailAddr", "PrimaryPhone", "Mobile", "Notes"):
            if body.get(key):
                customer[key] = body[key]
        return store.insert("Customer", customer)


def update_customer(store: QboStore, body: Entity) -> Entity:
    """Full or sparse update of a Customer's writable fields."""
    with store.lock:
        customer = store.current("Customer", body)
        if body.get("DisplayName"):
            _unique_name(store, body["DisplayName"], customer["Id"])
        _copy_fields(customer, body, CUSTOMER_WRITABLE, sparse=bool(body.get("sparse")), keep=("DisplayName",
                     "Active"))
        store.touch("Customer", customer)
        return customer


def _unique_name(store: QboStore, name: str, own_id: str | None) -> None:
    for other in store.entities["Customer"].values():
        if other["DisplayName"] == name and other["Id"] != own_id:
            raise faults.validation("Duplicate Name Exists Error",
                                    f"The name supplied already exists. : Id={other['Id']}", "6240")


# --- invoices and credit memos -------------------------------------------------------------------
def create_invoice(store: QboStore, body: Entity) -> Entity:
    """Create an Invoice from its sales lines; Balance starts at TotalAmt."""
    with store.lock:
        invoice = _sales_form(store, body, "Invoice")
        txn_date = date.fromisoformat(invoice["TxnDate"])
        invoice["DueDate"] = parse_date(body.get("DueDate"), "DueDate") or (
            txn_date + timedelta(days=30)).isoformat()
        invoice["Balance"] = invoice["TotalAmt"]
        invoice["EmailStatus"] = body.get("EmailStatus") or "NotSet"
        invoice["LinkedTxn"] = []
        if body.get("BillEmail"):
            invoice["BillEmail"] = body["BillEmail"]
        _adjust_customer(store, invoice, invoice["TotalAmt"])
        return store.insert("Invoice", invoice)


def create_credit_memo(store: QboStore, body: Entity) -> Entity:
    """Create a CreditMemo; all of it is RemainingCredit until a Payment line applies it."""
    with store.lock:
        memo = _sales_form(store, body, "CreditMemo")
        memo["RemainingCredit"] = memo["TotalAmt"]
        memo["Balance"] = memo["TotalAmt"]
        _adjust_customer(store, memo, -memo["TotalAmt"])
        return store.insert("CreditMemo", memo)


def _sales_form(store: QboStore, body: Entity, kind: str) -> Entity:
    customer = store.get("Customer", ref_id(body, "CustomerRef"))
    lines = sales_lines(body.get("Line"))
    total = sum((line["Amount"] for line in lines if line["DetailType"] == "SalesItemLineDetail"), ZERO)
    txn_date = parse_date(body.get("TxnDate"), "TxnDate") or store.clock().date().isoformat()
    form: Entity = {
        "DocNumber": body.get("DocNumber") or _next_doc_number(store, kind),
        "TxnDate": txn_date,
        "CustomerRef": {"value": customer["Id"], "name": customer["DisplayName"]},
        "CurrencyRef": dict(customer["CurrencyRef"]),
        "ExchangeRate": exchange_rate(store, customer["CurrencyRef"]["value"], body.get("ExchangeRate"),
                                      date.fromisoformat(txn_date)),
        "Line": [*lines, {"Amount": total, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}],
        "TotalAmt": total,
        "PrivateNote": _note(body.get("PrivateNote") or ""),
        "CustomField": _custom_fields(store, body.get("CustomField") or [], {}),
    }
    if body.get("CustomerMemo"):
        form["CustomerMemo"] = {"value": str(body["CustomerMemo"].get("value", ""))}
    return form


def exchange_rate(store: QboStore, currency: str, sent: Any, on: date) -> Decimal:
    """A sales form's ExchangeRate (home currency per 1 unit of its currency; the company has
    multicurrency on): 1 in the home currency, else the rate sent, else QBO's rate for the day."""
    if currency == store.currency:
        return Decimal("1")
    if sent is not None:
        rate = money_exact(sent, "ExchangeRate")
        if not rate.is_finite() or rate <= ZERO:
            raise faults.validation("Invalid Number", f"ExchangeRate: {sent!r} must be greater than zero",
                                    "2030", "ExchangeRate")
        return quantize_rate(rate)
    try:
        return day_rate(currency, store.currency, on)
    except NoRateError:
        raise faults.validation("Invalid Currency", f"No exchange rate for {currency} in this emulator",
                                "6000", "CurrencyRef") from None


def _next_doc_number(store: QboStore, kind: str) -> str:
    return str(1001 + len(store.entities[kind]) + len(store.deleted[kind]))


def update_invoice(store: QboStore, body: Entity) -> Entity:
    """Full or sparse update of an Invoice's writable fields (amounts are derived, not written)."""
    with store.lock:
        invoice = store.current("Invoice", body)
        _check_amounts_unchanged(invoice, body, sparse=bool(body.get("sparse")))
        changes = dict(body)
        if "DueDate" in changes:
            changes["DueDate"] = parse_date(changes["DueDate"], "DueDate") or invoice["DueDate"]
        if "TxnDate" in changes:
            changes["TxnDate"] = parse_date(changes["TxnDate"], "TxnDate") or invoice["TxnDate"]
        if "PrivateNote" in changes:
            changes["PrivateNote"] = _note(changes["PrivateNote"] or "")
        if "CustomField" in changes:
            current = {f["DefinitionId"]: f for f in invoice.get("CustomField", [])}
            changes["CustomField"] = _custom_fields(store, changes["CustomField"] or [], current)
        _copy_fields(invoice, changes, INVOICE_WRITABLE, sparse=bool(body.get("sparse")),
                     keep=("DueDate", "TxnDate", "DocNumber", "EmailStatus"))
        store.touch("Invoice", invoice)
        return invoice


def _check_amounts_unchanged(invoice: Entity, body: Entity, *, sparse: bool) -> None:
    # A full update replaces the invoice, so CustomerRef and Line are as required as on create. The emulator
    # does not re-price lines or move an invoice to another customer (balances and payments would follow);
    # it refuses such an update instead of answering 200 with the old amounts.
    if not sparse:
        ref_id(body, "CustomerRef")
        sales_lines(body.get("Line"))
    if "CustomerRef" in body and ref_id(body, "CustomerRef") != invoice["CustomerRef"]["value"]:
        raise faults.validation("Business Validation Error", "The emulator does not move an invoice to "
                                "another customer; void it and create a new one.", "6000", "CustomerRef")
    if "Line" in body and priced(sales_lines(body["Line"])) != priced(invoice["Line"]):
        raise faults.validation("Business Validation Error", "The emulator does not re-price invoice lines on "
                                "update; void the invoice and create a new one.", "6000", "Line")


def void_invoice(store: QboStore, body: Entity) -> Entity:
    """Void: amounts go to zero and the note says Voided; paid invoices must be unpaid first."""
    with store.lock:
        invoice = store.current("Invoice", body)
        _must_be_unlinked(invoice)
        _adjust_customer(store, invoice, -invoice["Balance"])
        for line in invoice["Line"]:
            line["Amount"] = ZERO
        invoice.update(TotalAmt=ZERO, Balance=ZERO, PrivateNote="Voided")
        store.touch("Invoice", invoice, "Void")
        return invoice


def delete_transaction(store: QboStore, kind: str, body: Entity) -> Entity:
    """Delete an Invoice or CreditMemo (not while payments link to it); CDC reports it as Deleted."""
    with store.lock:
        entity = store.current(kind, body)
        _must_be_unlinked(entity)
        amount = entity["Balance"] if kind == "Invoice" else -entity["RemainingCredit"]
        _adjust_customer(store, entity, -amount)
        store.remove(kind, entity["Id"])
        return {"Id": entity["Id"], "status": "Deleted", "domain": "QBO"}


def _must_be_unlinked(entity: Entity) -> None:
    if entity.get("LinkedTxn"):
        raise faults.validation("Business Validation Error",
                                "This transaction is linked to payments; void or delete those first.",
                                "6480")


# --- payments ------------------------------------------------------------------------------------
def create_payment(store: QboStore, body: Entity) -> Entity:
    """Create a Payment, applying its lines to invoices and credit memos."""
    with store.lock:
        customer = store.get("Customer", ref_id(body, "CustomerRef"))
        if body.get("TotalAmt") in (None, ""):
            raise faults.required("TotalAmt")
        total = money(body["TotalAmt"], "TotalAmt")
        lines = _payment_lines(store, customer["Id"], body.get("Line") or [])
        charges = sum((amt for kind, _, amt in lines if kind == "Invoice"), ZERO)
        credits = sum((amt for kind, _, amt in lines if kind == "CreditMemo"), ZERO)
        if credits > charges:
            # Credit only pays charges: applied beyond them it would become unapplied money nobody paid.
            raise faults.validation("Business Validation Error", f"Credits applied ({credits}) cannot exceed "
                                    f"the charges this payment pays ({charges}).", "6000", "Line")
        applied = charges - credits
        if total < 0 or applied > total:
            raise faults.validation("Business Validation Error", "The payment amount must be at least the "
                                    "amount applied to invoices less credits applied.", "6000", "TotalAmt")
        payment: Entity = {
            "Id": store.new_id(),
            "TxnDate": parse_date(body.get("TxnDate"), "TxnDate") or store.clock().date().isoformat(),
            "CustomerRef": {"value": customer["Id"], "name": customer["DisplayName"]},
            "CurrencyRef": dict(customer["CurrencyRef"]), "TotalAmt": total, "UnappliedAmt": total - applied,
            "ProcessPayment": False,
            "Line": [{"Amount": amt, "LinkedTxn": [{"TxnId": tid, "TxnType": kind}]} for kind, tid, amt in lines],
        }
        for key in ("PaymentRefNum", "PrivateNote"):
            if body.get(key):
                payment[key] = body[key]
        # Without DepositToAccountRef QBO holds the money in Undeposited Funds until a Deposit moves it.
        deposit_to = account(store, body.get("DepositToAccountRef") or {"value": UNDEPOSITED_FUNDS},
                             "DepositToAccountRef", DEPOSIT_ACCOUNT_TYPES)
        payment["DepositToAccountRef"] = {"value": deposit_to["Id"], "name": deposit_to["Name"]}
        move_balance(store, deposit_to["Id"], total)
        _adjust_customer(store, payment, -total)
        store.insert("Payment", payment)
        for kind, tid, amount in lines:
            _apply(store, kind, tid, payment["Id"], amount)
        return payment


def _payment_lines(store: QboStore, customer_id: str, raw: list[Entity]) -> list[tuple[str, str, Decimal]]:
    out: list[tuple[str, str, Decimal]] = []
    # Several lines may link the same transaction; together they may not apply more than it has open.
    claimed: dict[tuple[str, str], Decimal] = {}
    for line in raw:
        linked = line.get("LinkedTxn") or []
        if not linked:
            continue  # an unlinked line is simply unapplied money
        kind, tid = str(linked[0].get("TxnType")), str(linked[0].get("TxnId"))
        if kind not in ("Invoice", "CreditMemo"):
            raise faults.validation("Invalid Reference Type", f"LinkedTxn.TxnType {kind} is not supported "
                                    "on a payment line", "2500", "LinkedTxn.TxnType")
        target = store.get(kind, tid)
        amount = money(line.get("Amount"), "Line.Amount")
        open_amount = (target["Balance"] if kind == "Invoice" else target["RemainingCredit"]) - claimed.get(
            (kind, tid), ZERO)
        if target["CustomerRef"]["value"] != customer_id:
            raise faults.validation("Business Validation Error",
                                    f"{kind} {tid} belongs to another customer", "6000", "LinkedTxn")
        if amount <= 0 or amount > open_amount:
            raise faults.validation("Business Validation Error", f"Line amount {amount} must be positive and "
                                    f"at most the open amount {open_amount} of {kind} {tid}", "6000", "Line")
        claimed[kind, tid] = claimed.get((kind, tid), ZERO) + amount
        out.append((kind, tid, amount))
    return out


def _apply(store: QboStore, kind: str, tid: str, payment_id: str, amount: Decimal) -> None:
    target = store.get(kind, tid)
    target["Balance"] -= amount
    if kind == "CreditMemo":
        target["RemainingCredit"] -= amount
    link = {"TxnId": payment_id, "TxnType": "Payment"}
    if link not in target.setdefault("LinkedTxn", []):  # one link per payment, however many lines
        target["LinkedTxn"].append(link)
    store.touch(kind, target)


def _unapply(store: QboStore, payment: Entity) -> None:
    for line in payment["Line"]:
        link = line["LinkedTxn"][0]
        target = store.entities[link["TxnType"]].get(link["TxnId"])
        if target is None:
            continue
        target["Balance"] += line["Amount"]
        if link["TxnType"] == "CreditMemo":
            target["RemainingCredit"] += line["Amount"]
        target["LinkedTxn"] = [t for t in target.get("LinkedTxn", []) if t["TxnId"] != payment["Id"]]
        store.touch(link["TxnType"], target)
    _adjust_customer(store, payment, payment["TotalAmt"])
    move_balance(store, (payment.get("DepositToAccountRef") or {}).get("value", ""), -payment["TotalAmt"])


def update_payment(store: QboStore, body: Entity, *, void: bool = False) -> Entity:
    """Update a Payment's memo fields, or void it (``include=void``), releasing what it applied."""
    with store.lock:
        payment = store.current("Payment", body)
        if void:
            _unapply(store, payment)
            payment.update(TotalAmt=ZERO, UnappliedAmt=ZERO, Line=[], PrivateNote="Voided")
            store.touch("Payment", payment, "Void")
            return payment
        _check_payment_unchanged(payment, body, sparse=bool(body.get("sparse")))
        _copy_fields(payment, body, PAYMENT_WRITABLE, sparse=bool(body.get("sparse")), keep=("TxnDate",))
        store.touch("Payment", payment)
        return payment


def _check_payment_unchanged(payment: Entity, body: Entity, *, sparse: bool) -> None:
    # As for invoices: a full update carries the required fields, and what the emulator cannot re-apply
    # (amount, customer, lines) is refused rather than silently kept.
    if not sparse:
        ref_id(body, "CustomerRef")
        if body.get("TotalAmt") in (None, ""):
            raise faults.required("TotalAmt")
    if body.get("TotalAmt") not in (None, "") and money(body["TotalAmt"], "TotalAmt") != payment["TotalAmt"]:
        raise faults.validation("Business Validation Error", "The emulator does not change a payment's amount "
                                "on update; void the payment and create a new one.", "6000", "TotalAmt")
    if "CustomerRef" in body and ref_id(body, "CustomerRef") != payment["CustomerRef"]["value"]:
        raise faults.validation("Business Validation Error", "The emulator does not move a payment to another "
                                "customer; void it and create a new one.", "6000", "CustomerRef")
    if "Line" in body and _line_links(body["Line"]) != _line_links(payment["Line"]):
        raise faults.validation("Business Validation Error", "The emulator does not re-apply payment "
                                "lines on update; void the payment and create a new one.", "6000", "Line")


def delete_payment(store: QboStore, body: Entity) -> Entity:
    """Delete a Payment, releasing what it applied."""
    with store.lock:
        payment = store.current("Payment", body)
        _unapply(store, payment)
        store.remove("Payment", payment["Id"])
        return {"Id": payment["Id"], "status": "Deleted", "domain": "QBO"}


def _line_links(lines: list[Entity]) -> list[tuple[str, str, Decimal]]:
    return [(str(x["LinkedTxn"][0]["TxnType"]), str(x["LinkedTxn"][0]["TxnId"]), money(x.get("Amount")))
            for x in lines if x.get("LinkedTxn")]


# --- shared helpers ------------------------------------------------------------------------------
def _adjust_customer(store: QboStore, txn: Entity, delta: Decimal) -> None:
    # Customer.Balance is derived (open invoices less credits); QBO does not bump its SyncToken for it.
    customer = store.entities["Customer"].get(txn["CustomerRef"]["value"])
    if customer is not None:
        customer["Balance"] += delta


def _note(text: Any) -> str:
    if len(str(text)) > MAX_PRIVATE_NOTE:
        raise faults.validation("String length is either shorter or longer than supported by specification",
                                f"PrivateNote is longer than {MAX_PRIVATE_NOTE} characters", "2050",
                                "PrivateNote")
    return str(text)


def _custom_fields(store: QboStore, raw: list[Entity], current: dict[str, Entity]) -> list[Entity]:
    fields = dict(current)
    for item in raw:
        definition = str(item.get("DefinitionId") or "")
        if definition not in store.custom_fields:
            # 3000 is Intuit's documented code for "Invalid Custom Field" (2010 is an unknown property).
            raise faults.validation("Invalid Custom Field", f"CustomField DefinitionId {definition!r} is not "
                                    "defined for this company", "3000", "CustomField")
        value = str(item.get("StringValue") or "")
        if len(value) > MAX_CUSTOM_FIELD_VALUE:
            raise faults.validation("String length is either shorter or longer than supported by "
                                    "specification", f"CustomField StringValue is longer than "
                                    f"{MAX_CUSTOM_FIELD_VALUE} characters", "2050", "CustomField")
        fields[definition] = {"DefinitionId": definition, "Name": store.custom_fields[definition],
                              "Type": "StringType", "StringValue": value}
    return [fields[k] for k in sorted(fields)]


def _copy_fields(entity: Entity, body: Entity, writable: tuple[str, ...], *, sparse: bool,
                 keep: tuple[str, ...]) -> None:
    # A full update replaces the entity: writable fields it omits are cleared, as QBO does; ``keep``
    # lists fields QBO never clears (dates, numbers, flags) when a full update omits them.
    for key in writable:
        if key in body and body[key] is not None:
            entity[key] = body[key]
        elif not sparse and key not in keep:
            entity.pop(key, None)
