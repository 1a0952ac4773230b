"""Accounting API routes for money that moves without an invoice: bank transactions (RECEIVE, SPEND and
RECEIVE-OVERPAYMENT), the overpayments they create, and the chart of accounts they are coded to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response

from connectors.xero.emulator import wire
from connectors.xero.emulator.api import (
    API_ROOT,
    CENT,
    body_json,
    date_field,
    elements,
    envelope,
    install_error_handlers,
    listing,
    money,
    not_found,
    ref_id,
)
from connectors.xero.emulator.records import LineItemRecord
from connectors.xero.emulator.store import OrgStore, XeroValidationError


def banking_blueprint(store: OrgStore) -> Blueprint:
    """Bank transactions, the overpayments they create, and the chart of accounts."""
    bp = Blueprint("xero_banking", __name__, url_prefix=API_ROOT)
    install_error_handlers(bp)

    _read_routes(bp, store, "BankTransactions", "BankTransaction", lambda: store.bank_transactions,
                 wire.bank_transaction)
    _read_routes(bp, store, "Overpayments", "Overpayment", lambda: store.overpayments, wire.overpayment)

    @bp.route("/BankTransactions", methods=["PUT", "POST"])
    def create_bank_transactions() -> Response:
        """PUT/POST /BankTransactions: RECEIVE, SPEND and RECEIVE-OVERPAYMENT."""
        made = []
        for item in elements(body_json(), "BankTransactions"):
            bank = item.get("BankAccount") or {}
            if not item.get("Type") or not isinstance(bank, dict) or not bank.get("Code"):
                raise XeroValidationError("Type, LineItems and BankAccount are required.")
            made.append(store.create_bank_transaction(
                ref_id(item, "Contact", "ContactID"), date_field(item, "Date"), str(bank["Code"]),
                _line_items(item), reference=item.get("Reference"), kind=str(item["Type"]),
                currency=item.get("CurrencyCode")))
        return envelope(store, "BankTransactions", [wire.bank_transaction(store, t) for t in made])

    @bp.get("/Accounts")
    def list_accounts() -> Response:
        """GET /Accounts: the chart of accounts."""
        return envelope(store, "Accounts", [wire.account(store, a) for a in store.accounts.values()])

    return bp


def _read_routes(bp: Blueprint, store: OrgStore, plural: str, entity: str,
                 records: Callable[[], dict[str, Any]], serialise: Callable[[OrgStore, Any], dict[str, Any]]) -> None:
    """GET /{plural} (paged, filtered like every listing) and GET /{plural}/{id} (404 when unknown)."""

    def list_all() -> Response:
        return listing(store, plural, entity, list(records().values()), lambda r: serialise(store, r))

    def get_one(entity_id: str) -> Response:
        rec = records().get(entity_id.lower())
        return not_found() if rec is None else envelope(store, plural, [serialise(store, rec)])

    bp.add_url_rule(f"/{plural}", f"list_{plural.lower()}", list_all, methods=["GET"])
    bp.add_url_rule(f"/{plural}/<entity_id>", f"get_{plural.lower()}", get_one, methods=["GET"])


def _line_items(item: dict[str, Any]) -> list[LineItemRecord]:
    """LineItems of a bank transaction: the amount is Quantity x UnitAmount, or LineAmount when no
    UnitAmount is given (Xero accepts either)."""
    lines = item.get("LineItems") or []
    if not isinstance(lines, list) or not lines or not all(isinstance(ln, dict) for ln in lines):
        raise XeroValidationError("Type, LineItems and BankAccount are required.")
    out = []
    for ln in lines:
        if ln.get("UnitAmount") is not None:
            amount = (money(ln.get("Quantity", 1), "Quantity", 4) * money(ln["UnitAmount"], "UnitAmount", 4))
        else:
            amount = money(ln.get("LineAmount", 0), "LineAmount")
        out.append(LineItemRecord(str(ln.get("Description") or ""), amount.quantize(CENT),
                                  str(ln.get("AccountCode") or "")))
    return out
