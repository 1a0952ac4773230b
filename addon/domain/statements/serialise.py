"""Plain-JSON views of parsed statements (money as strings, dates as ISO 8601)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from addon.domain.statements.model import ParsedStatement
from addon.domain.types import BankLine


def line_to_dict(line: BankLine) -> dict[str, Any]:
    """A BankLine as JSON-ready data; the amount is a string so no precision is lost."""
    return {
        "booking_date": line.booking_date.isoformat(),
        "value_date": line.value_date.isoformat() if line.value_date else None,
        "amount": str(line.amount),
        "currency": line.currency,
        "counterparty_name": line.counterparty_name,
        "counterparty_account": line.counterparty_account,
        "end_to_end_id": line.end_to_end_id,
        "structured_reference": line.structured_reference,
        "remittance_text": line.remittance_text,
        "bank_reference": line.bank_reference,
        "reversal": line.reversal,
        "extra": dict(line.extra),
    }


def statement_to_dict(statement: ParsedStatement) -> dict[str, Any]:
    """Header facts and lines of a parsed statement as JSON-ready data."""
    return {
        "format": statement.format,
        "account": statement.account,
        "currency": statement.currency,
        "opening_balance": _money(statement.opening_balance),
        "closing_balance": _money(statement.closing_balance),
        "statement_id": statement.statement_id,
        "lines": [line_to_dict(line) for line in statement.lines],
    }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
