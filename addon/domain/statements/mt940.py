"""SWIFT MT940 customer statements to normalised bank lines.

Hand-written on purpose: stock MT940 libraries reject the real exports in our sample set (header
junk before ``:20:``, several messages without ``-`` separators, SOH/ETX framing, RC/RD reversal
marks with a funds code, wrapped :61: supplementary details). Only the tag grammar is parsed here;
the many :86: dialects live in :mod:`mt940_info`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from addon.domain.statements.model import (
    ParsedStatement,
    StatementError,
    StatementSection,
    combine_sections,
)
from addon.domain.statements.mt940_info import parse_info
from addon.domain.statements.text import clean, decode, normalise_account, parse_amount, to_minor
from addon.domain.types import BankLine

FMT = "mt940"
_TAG = re.compile(r"^:(\d{2}[A-Z]?):(.*)$")
_SWIFT_BLOCKS = re.compile(r"^(\{\d:[^{}]*\})*(\{4:)?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BALANCE = re.compile(r"^([CD])(\d{6})([A-Z]{3})(\d[\d,.]*)$")
_TXN = re.compile(
    r"^(?P<vdate>\d{6})(?P<edate>\d{4})?(?P<mark>RC|RD|EC|ED|C|D)(?P<fund>[A-Z])?"
    # SWIFT amounts always carry a decimal comma and the N/S/F type code is mandatory: requiring
    # both stops "1O,00" (letter O) from silently parsing as 1.
    r"(?P<amount>\d+[,.]\d*)(?P<type>[NSF][A-Z0-9]{3})(?P<rest>.*)$"
)


@dataclass(slots=True)
class _Field:
    tag: str
    lines: list[str]
    lineno: int


@dataclass(slots=True)
class _Statement:
    reference: str | None = None
    account: str | None = None
    number: str | None = None
    currency: str | None = None
    opening: Decimal | None = None
    closing: Decimal | None = None
    transactions: list[tuple[_Field, list[str] | None]] = field(default_factory=list)


def parse_mt940(data: bytes) -> ParsedStatement:
    """Parse one or more MT940 messages; raise StatementError with the line number on bad input."""
    fields = _tokenise(decode(data, FMT))
    statements = _group(fields)
    if not statements:
        raise StatementError(FMT, "line 1", "no MT940 statement (:20:/:25:/:61: tags) found")
    sections: list[StatementSection] = []
    lines: list[BankLine] = []
    for stmt in statements:
        stmt_lines = [_transaction(stmt, txn, info) for txn, info in stmt.transactions]
        lines.extend(stmt_lines)
        sections.append(
            StatementSection(
                stmt.account, stmt.currency, stmt.opening, stmt.closing,
                stmt.number or stmt.reference, len(stmt_lines),
            )
        )
    return combine_sections(FMT, sections, lines)


def _tokenise(text: str) -> list[_Field]:
    fields: list[_Field] = []
    current: _Field | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = _CONTROL.sub("", _SWIFT_BLOCKS.sub("", raw)).rstrip("\r")
        match = _TAG.match(line)
        if match:
            current = _Field(match.group(1), [match.group(2)], lineno)
            fields.append(current)
        elif line.strip() in ("-", "-}") or line.startswith("-}"):
            current = None  # end of message: what follows until the next tag is header junk
        elif current is not None and line.strip():
            current.lines.append(line)
    return fields


def _group(fields: list[_Field]) -> list[_Statement]:
    statements: list[_Statement] = []
    stmt: _Statement | None = None
    previous_tag = ""
    for fld in fields:
        tag = fld.tag
        if tag == "20" or stmt is None:
            stmt = _Statement()
            statements.append(stmt)
        value = " ".join(fld.lines).strip()
        if tag == "20":
            stmt.reference = value or None
        elif tag == "25":
            stmt.account = normalise_account(value)
        elif tag in ("28", "28C"):
            stmt.number = value or None
        elif tag in ("60F", "60M"):
            stmt.opening, stmt.currency = _balance(fld)
        elif tag in ("62F", "62M"):
            stmt.closing, currency = _balance(fld)
            stmt.currency = stmt.currency or currency
        elif tag == "61":
            stmt.transactions.append((fld, None))
        elif tag == "86" and previous_tag == "61" and stmt.transactions:
            txn, _ = stmt.transactions[-1]
            stmt.transactions[-1] = (txn, fld.lines)
        previous_tag = tag
    return [s for s in statements if s.transactions or s.opening is not None]


def _balance(fld: _Field) -> tuple[Decimal, str]:
    value = fld.lines[0].strip()
    match = _BALANCE.match(value)
    if not match:
        raise StatementError(FMT, f"line {fld.lineno}", f"bad balance field :{fld.tag}: {value!r}")
    mark, day, currency, amount = match.groups()
    _date(day, fld)
    parsed = _amount(amount, fld)
    return to_minor(parsed if mark == "C" else -parsed, currency), currency


def _transaction(stmt: _Statement, fld: _Field, info_lines: list[str] | None) -> BankLine:
    match = _TXN.match(fld.lines[0].strip())
    if not match:
        raise StatementError(FMT, f"line {fld.lineno}", f"bad :61: statement line {fld.lines[0]!r}")
    if stmt.currency is None:
        raise StatementError(FMT, f"line {fld.lineno}", "no :60F: opening balance gives the currency")
    value_date = _date(match["vdate"], fld)
    booking = _entry_date(value_date, match["edate"], fld) if match["edate"] else value_date
    amount = _amount(match["amount"], fld)
    mark = match["mark"]
    # RD reverses a debit (money comes back in), RC reverses a credit (money goes out).
    signed = amount if mark in ("C", "RD", "EC") else -amount
    customer_ref, _, bank_ref = match["rest"].partition("//")
    supplementary = clean(" ".join(fld.lines[1:]))
    info = parse_info(info_lines or [])
    extra = dict(info.extra)
    extra["transaction_type"] = match["type"]
    if customer_ref.strip() and customer_ref.strip().upper() != "NONREF":
        extra["customer_reference"] = customer_ref.strip()
    if supplementary:
        extra["supplementary"] = supplementary
    if stmt.account:
        extra["account"] = stmt.account
    account = info.counterparty_account
    if account is None and supplementary and re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", supplementary):
        account = supplementary  # Rabobank puts the counterparty IBAN on the :61: second line
    return BankLine(
        booking_date=booking,
        amount=to_minor(signed, stmt.currency),
        currency=stmt.currency,
        value_date=value_date,
        counterparty_name=info.counterparty_name,
        counterparty_account=account,
        end_to_end_id=info.end_to_end_id,
        structured_reference=info.structured_reference,
        remittance_text=info.remittance_text,
        bank_reference=clean(bank_ref),
        reversal=mark in ("RC", "RD"),
        extra=extra,
    )


def _amount(raw: str, fld: _Field) -> Decimal:
    separator = "," if "," in raw else "."
    return parse_amount(raw, FMT, f"line {fld.lineno}", decimal_separator=separator)


def _date(raw: str, fld: _Field) -> date:
    year = int(raw[:2])
    try:
        # SWIFT years have two digits; statements from before 1980 do not exist in practice.
        return date(2000 + year if year < 80 else 1900 + year, int(raw[2:4]), int(raw[4:6]))
    except ValueError as exc:
        raise StatementError(FMT, f"line {fld.lineno}", f"bad date {raw!r}") from exc


def _entry_date(value_date: date, mmdd: str, fld: _Field) -> date:
    month, day = int(mmdd[:2]), int(mmdd[2:])
    year = value_date.year
    # The entry date has no year: it may fall across New Year from the value date.
    if month == 12 and value_date.month == 1:
        year -= 1
    elif month == 1 and value_date.month == 12:
        year += 1
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise StatementError(FMT, f"line {fld.lineno}", f"bad entry date {mmdd!r}") from exc
