"""The demo's bank statement: each kind of line cash application meets, built from the open ledger."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from addon.demo.statement import build_statement


def _invoice(number: str, customer: str, amount: str, currency: str = "GBP") -> dict[str, object]:
    return {"number": number, "customer": customer, "amount_due": Decimal(amount), "currency": currency}


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_the_two_invoice_deposit_pays_two_invoices_of_one_customer_when_the_ledger_has_them() -> None:
    ledger = [_invoice("INV-1", "Acme", "100.00"), _invoice("INV-2", "Brill", "200.00"),
              _invoice("INV-3", "Cobalt", "300.00"), _invoice("INV-4", "Dune", "40.00"),
              _invoice("INV-5", "Echo", "50.00"), _invoice("INV-6", "Dune", "60.00", "EUR"),
              _invoice("INV-7", "Fern", "70.00"), _invoice("INV-8", "Dune", "80.00")]
    rows = _rows(build_statement(ledger, date(2026, 12, 6)))
    pair = next(r for r in rows if " and " in r["Description"])
    # Dune's GBP invoices (its EUR one is another currency), in one deposit from Dune.
    assert (pair["Description"], pair["Amount"], pair["Payer"]) == ("INV-4 and INV-8", "120.00", "Dune")
    # The short payment and the overpayment take the next invoices not already paid by another line.
    described = " ".join(r["Description"] for r in rows)
    assert "Part payment INV-5" in described
    assert "Payment INV-6" in described
    assert len(rows) == 7  # fee, typo, no reference, pair, short, over, and an unrelated line


def test_without_such_a_pair_the_deposit_pays_the_next_two_invoices() -> None:
    ledger = [_invoice(f"INV-{n}", f"Customer {n}", "10.00") for n in range(1, 8)]
    pair = next(r for r in _rows(build_statement(ledger, date(2026, 12, 6))) if " and " in r["Description"])
    assert (pair["Description"], pair["Amount"], pair["Payer"]) == ("INV-4 and INV-5", "20.00", "Customer 4")
