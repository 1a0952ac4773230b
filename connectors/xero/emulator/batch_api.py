"""Accounting API routes for batch payments (``/BatchPayments``): one bank deposit paying several sales
invoices, made all at once or not at all, and shown in Xero's bank reconciliation as one transaction."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response

from connectors.xero.emulator import wire
from connectors.xero.emulator.api import install_error_handlers, read_routes
from connectors.xero.emulator.errors import XeroValidationError
from connectors.xero.emulator.payloads import (
    API_ROOT,
    BatchClaims,
    body_json,
    date_field,
    echoed,
    elements,
    envelope,
    money,
    ref_id,
    write,
)
from connectors.xero.emulator.records import BatchPaymentRecord, InvoiceRecord
from connectors.xero.emulator.store import OrgStore


def batch_payments_blueprint(store: OrgStore) -> Blueprint:
    """GET/PUT /BatchPayments, GET /BatchPayments/{id}, and deleting one (POST, Status DELETED)."""
    bp = Blueprint("xero_batch_payments", __name__, url_prefix=API_ROOT)
    install_error_handlers(bp)
    read_routes(bp, store, "BatchPayments", "BatchPayment", lambda: store.batch_payments, wire.batch_payment)

    @bp.put("/BatchPayments")
    def create_batch_payments() -> Response:
        """PUT /BatchPayments: one or more batch payments, each saved whole or refused (``write``)."""
        # A BatchPayment has no HasErrors flag: a refused one carries the ValidationErrors, its refused
        # payments' included.
        return write(store, "BatchPayments", lambda item, claims: _prepare_batch(store, item, claims),
                     lambda b: wire.batch_payment(store, b), None)

    @bp.post("/BatchPayments")
    def delete_batch_payment() -> Response:
        """POST /BatchPayments with {BatchPaymentID, Status: DELETED} (Xero's documented delete)."""
        return _delete(store, None)

    @bp.post("/BatchPayments/<batch_payment_id>")
    def delete_batch_payment_by_id(batch_payment_id: str) -> Response:
        """POST /BatchPayments/{id} with {Status: DELETED}."""
        return _delete(store, batch_payment_id)

    return bp


def _delete(store: OrgStore, batch_payment_id: str | None) -> Response:
    item = elements(body_json(), "BatchPayments")[0]
    wanted = batch_payment_id or item.get("BatchPaymentID")
    with echoed(item, None, {"BatchPaymentID": wanted} if wanted else None):
        if not wanted:
            raise XeroValidationError("BatchPaymentID is required.")
        if item.get("Status") != "DELETED":
            raise XeroValidationError("Batch payments can only be deleted (Status DELETED).")
        deleted = store.delete_batch_payment(str(wanted))  # an unknown id is a 404
    return envelope(store, "BatchPayments", [wire.batch_payment(store, deleted)])


def _prepare_batch(store: OrgStore, item: dict[str, Any], claims: BatchClaims) -> Callable[[], BatchPaymentRecord]:
    """Check a whole batch payment before anything is saved. Every fault, of the batch itself (account,
    date) or of one of its payments, is a ValidationError of the batch payment element, as Xero answers
    (Xero-NetStandard#324, Xero-OpenAPI#377): the payments are echoed as sent, without errors of their own."""
    account = item.get("Account")
    if not isinstance(account, dict) or not account.get("AccountID"):
        raise XeroValidationError("Account.AccountID is required.")
    code = store.account_code_of(str(account["AccountID"]))
    store.bank_account(code)
    on = date_field(item, "Date")
    payments = item.get("Payments")
    if not isinstance(payments, list) or not payments or not all(isinstance(p, dict) for p in payments):
        raise XeroValidationError("A batch payment must have at least one payment.")
    paid = dict(claims.invoice_payments)  # what earlier batches of the request pay, then this one's
    items: list[tuple[str, Decimal, str | None]] = []
    problems: list[str] = []  # every refused payment's, in request order
    for pay in payments:
        try:
            inv, amount = _checked_item(store, pay, code, paid)
        except XeroValidationError as exc:
            problems.extend(exc.messages)
            continue
        paid[inv.id] = paid.get(inv.id, Decimal("0")) + amount
        items.append((inv.id, amount, pay.get("Reference")))
    if problems:
        raise XeroValidationError(*problems)
    claims.invoice_payments.update(paid)
    reference = item.get("Reference")
    return lambda: store.create_batch_payment(code, on, items, reference=reference)


def _checked_item(store: OrgStore, pay: dict[str, Any], code: str,
                  paid: dict[str, Decimal]) -> tuple[InvoiceRecord, Decimal]:
    """One payment of a batch: its invoice and amount, checked against what the batch already pays it."""
    if "Amount" not in pay:
        raise XeroValidationError("Amount is required.")
    amount = money(pay["Amount"], "Amount")
    inv = store.applied_invoice(ref_id(pay, "Invoice", "InvoiceID"))
    store.check_batch_item(inv, amount, code, already=paid.get(inv.id, Decimal("0")))
    return inv, amount
