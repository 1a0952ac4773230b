"""The CSV-in / JSON-out contract of ``cashline match evaluate`` (no database, no platform)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from addon.domain.types import Allocation, BankLine

from .model import MatchResult, OpenInvoice

INVOICE_COLUMNS = ("invoice_id", "number", "customer_id", "customer_name", "currency", "amount_due",
                   "issue_date", "due_date")
LINE_COLUMNS = ("line_id", "date", "amount", "currency", "counterparty", "counterparty_account",
                "reference", "text")


class ExternalDataError(ValueError):
    """A row of an input file cannot be read; the message names the file, row and column."""


def _rows(lines: Iterable[str], required: tuple[str, ...], label: str) -> Iterable[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(lines, skipinitialspace=True)
    header = [h.strip() for h in reader.fieldnames or ()]
    missing = [c for c in required if c not in header]
    if missing:
        raise ExternalDataError(f"{label}: missing column(s) {', '.join(missing)}")
    reader.fieldnames = header
    for row in reader:
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None}


# A plain decimal, optionally with thousands commas in groups of three: "1,5" is a decimal comma, not 15.
_AMOUNT = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")


def _money(value: str, where: str) -> Decimal:
    if not value:
        return Decimal("NaN")
    if not _AMOUNT.match(value):
        raise ExternalDataError(f"{where}: not an amount: {value!r}")
    try:
        return Decimal(value.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern already guards this
        raise ExternalDataError(f"{where}: not an amount: {value!r}") from None


def _date(value: str, where: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ExternalDataError(f"{where}: not an ISO date: {value!r}") from None


def read_invoices(lines: Iterable[str], label: str = "invoices") -> list[OpenInvoice]:
    """Open invoices from CSV text with the INV.csv header."""
    out = []
    for num, row in _rows(lines, INVOICE_COLUMNS, label):
        where = f"{label} line {num}"
        amount = _money(row["amount_due"], f"{where} amount_due")
        if not amount.is_finite():
            raise ExternalDataError(f"{where} amount_due: empty")
        out.append(OpenInvoice(invoice_id=row["invoice_id"], number=row["number"], customer_id=row["customer_id"],
                               customer_name=row["customer_name"], currency=row["currency"].upper(),
                               amount_due=amount, issue_date=_date(row["issue_date"], f"{where} issue_date"),
                               due_date=_date(row["due_date"], f"{where} due_date")))
    return out


def read_lines(lines: Iterable[str], label: str = "lines") -> list[tuple[str, BankLine]]:
    """Bank lines (with their ids) from CSV text with the LINES.csv header."""
    out = []
    for num, row in _rows(lines, LINE_COLUMNS, label):
        where = f"{label} line {num}"
        amount = _money(row["amount"], f"{where} amount")
        if not amount.is_finite():
            raise ExternalDataError(f"{where} amount: empty")
        out.append((row["line_id"], BankLine(
            booking_date=_date(row["date"], f"{where} date"), amount=amount, currency=row["currency"].upper(),
            counterparty_name=row["counterparty"] or None, counterparty_account=row["counterparty_account"] or None,
            structured_reference=row["reference"] or None, remittance_text=row["text"] or None)))
    return out


def _allocations(allocations: Iterable[Allocation]) -> list[dict[str, str]]:
    return [{"invoice_id": a.invoice_id, "amount": str(a.amount)} for a in allocations]


def result_to_json(line_id: str, result: MatchResult) -> dict[str, Any]:
    """One output object; money as decimal strings so no consumer rounds through binary floats."""
    return {
        "line_id": line_id,
        "decision": result.decision.value,
        "allocations": _allocations(result.allocations),
        "suggestions": [_allocations(s.allocations) for s in result.suggestions],
        "confidence": round(result.confidence, 4),
        "explanation": result.explanation,
        "residual": result.residual.value if result.residual else None,
        "residual_amount": str(result.residual_amount) if result.residual else None,
        "deduction_reason": result.deduction_reason,
        "customer_id": result.customer_id,
    }
