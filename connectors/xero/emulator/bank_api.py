"""Accounting API routes for money that moves without an invoice: bank transactions (RECEIVE, SPEND and
RECEIVE-OVERPAYMENT), the overpayments they create, the chart of accounts they are coded to, the
organisation's currencies, and the organisation itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response

from connectors.xero.emulator import wire
from connectors.xero.emulator.api import install_error_handlers, read_routes
from connectors.xero.emulator.errors import XeroValidationError
from connectors.xero.emulator.payloads import API_ROOT, CENT, date_field, envelope, money, ref_id, write
from connectors.xero.emulator.records import BankTransactionRecord, LineItemRecord
from connectors.xero.emulator.store import OrgStore


def banking_blueprint(store: OrgStore) -> Blueprint:
    """Bank transactions, the overpayments they create, and the chart of accounts."""
    bp = Blueprint("xero_banking", __name__, url_prefix=API_ROOT)
    install_error_handlers(bp)

    read_routes(bp, store, "BankTransactions", "BankTransaction", lambda: store.bank_transactions,
                wire.bank_transaction)
    read_routes(bp, store, "Overpayments", "Overpayment", lambda: store.overpayments, wire.overpayment)

    @bp.route("/BankTransactions", methods=["PUT", "POST"])
    def create_bank_transactions() -> Response:
        """PUT/POST /BankTransactions: RECEIVE, SPEND and RECEIVE-OVERPAYMENT."""
        return write(store, "BankTransactions", lambda item, _claims: _prepare_bank_transaction(store, item),
                     lambda t: wire.bank_transaction(store, t), None)  # no HasErrors on the entity

    @bp.get("/Accounts")
    def list_accounts() -> Response:
        """GET /Accounts: the chart of accounts."""
        return envelope(store, "Accounts", [wire.account(store, a) for a in store.accounts.values()])

    @bp.get("/Organisation")
    def get_organisation() -> Response:
        """GET /Organisation: the connected organisation (one, in an ``Organisations`` array)."""
        return envelope(store, "Organisations", [wire.organisation(store)])

    @bp.get("/Currencies")
    def list_currencies() -> Response:
        """GET /Currencies: the currencies the organisation has added, base currency included."""
        return envelope(store, "Currencies", [wire.currency(code) for code in sorted(store.currencies)])

    return bp


def _prepare_bank_transaction(store: OrgStore, item: dict[str, Any]) -> Callable[[], BankTransactionRecord]:
    bank = item.get("BankAccount") or {}
    if not item.get("Type") or not isinstance(bank, dict) or not bank.get("Code"):
        raise XeroValidationError("Type, LineItems and BankAccount are required.")
    contact_id, on, code = ref_id(item, "Contact", "ContactID"), date_field(item, "Date"), str(bank["Code"])
    lines, kind, currency = _line_items(item), str(item["Type"]), item.get("CurrencyCode")
    store.check_bank_transaction(contact_id, code, lines, kind=kind, currency=currency)
    return lambda: store.create_bank_transaction(contact_id, on, code, lines, reference=item.get("Reference"),
                                                 kind=kind, currency=currency)


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
