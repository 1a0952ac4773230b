"""Result and error types shared by every statement parser."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from addon.domain.types import BankLine

FORMATS = ("camt", "mt940", "bai2", "ofx", "csv")


class StatementError(ValueError):
    """A statement file that cannot be parsed; nothing from it may be imported."""

    def __init__(self, format: str, location: str, reason: str) -> None:
        self.format = format
        self.location = location
        self.reason = reason
        super().__init__(f"{format} statement rejected at {location}: {reason}")


@dataclass(frozen=True, slots=True)
class StatementSection:
    """One account statement inside a file (MT940 messages, camt <Stmt>, BAI2 account records)."""

    account: str | None
    currency: str | None
    opening_balance: Decimal | None = None
    closing_balance: Decimal | None = None
    statement_id: str | None = None
    line_count: int = 0


@dataclass(frozen=True, slots=True)
class ParsedStatement:
    """A whole parsed file: header facts plus the normalised lines, in file order.

    ``account``/``currency``/balances describe the file when it covers a single account; a file with
    several accounts leaves them ``None`` and each line names its account in ``extra["account"]``.
    """

    format: str
    account: str | None
    currency: str | None
    opening_balance: Decimal | None
    closing_balance: Decimal | None
    statement_id: str | None
    lines: list[BankLine]
    sections: tuple[StatementSection, ...] = field(default=())


def combine_sections(
    format: str, sections: list[StatementSection], lines: list[BankLine]
) -> ParsedStatement:
    """Fold per-account sections into one ParsedStatement (balances only when one account)."""
    accounts = {s.account for s in sections}
    if not sections or len(accounts) > 1:
        currencies = {s.currency for s in sections}
        currency = next(iter(currencies)) if len(currencies) == 1 else None
        return ParsedStatement(format, None, currency, None, None, None, lines, tuple(sections))
    first, last = sections[0], sections[-1]
    ids = [s.statement_id for s in sections if s.statement_id]
    return ParsedStatement(
        format=format,
        account=first.account,
        currency=first.currency or last.currency,
        opening_balance=first.opening_balance,
        closing_balance=last.closing_balance,
        statement_id=",".join(ids) if ids else None,
        lines=lines,
        sections=tuple(sections),
    )
