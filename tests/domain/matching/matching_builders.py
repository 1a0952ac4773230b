"""Builders for matching tests: tiny ledgers and bank lines written in one line each."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from addon.domain.matching import OpenInvoice
from addon.domain.types import BankLine

ACME = ("C1", "Acme Trading Ltd", ("GB11NWBK00000000000001",))
GLOBEX = ("C2", "Globex Logistics GmbH", ("DE44500105175407324931",))
INITECH = ("C3", "Initech Systems Inc", ())


def inv(number: int, amount: str, customer: tuple[str, str, tuple[str, ...]] = ACME, *, due_day: int = 1,
        currency: str = "GBP") -> OpenInvoice:
    cid, name, accounts = customer
    return OpenInvoice(invoice_id=f"I{number}", number=f"INV-{number:06d}", customer_id=cid, customer_name=name,
                       currency=currency, amount_due=Decimal(amount), issue_date=date(2026, 9, 1),
                       due_date=date(2026, 10, due_day), customer_accounts=accounts)


def line(amount: str, *, name: str | None = None, account: str | None = None, ref: str | None = None,
         text: str | None = None, currency: str = "GBP", reversal: bool = False) -> BankLine:
    return BankLine(booking_date=date(2026, 11, 2), amount=Decimal(amount), currency=currency,
                    counterparty_name=name, counterparty_account=account, structured_reference=ref,
                    remittance_text=text, reversal=reversal)


def ledger() -> list[OpenInvoice]:
    """Three customers, distinct amounts, a few invoices each."""
    return [
        inv(101, "1200.00", due_day=1), inv(102, "340.50", due_day=3), inv(103, "89.99", due_day=5),
        inv(104, "2500.00", due_day=7), inv(201, "980.00", GLOBEX, due_day=2, currency="EUR"),
        inv(202, "410.25", GLOBEX, due_day=4, currency="EUR"), inv(301, "5600.00", INITECH, due_day=6),
        inv(302, "120.00", INITECH, due_day=8), inv(303, "730.10", INITECH, due_day=9),
    ]
