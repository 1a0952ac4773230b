"""BAI2 cash-management files to normalised bank lines.

Hand-written because real exports break the stock parsers: several records packed on one physical
line (``.../ 16,...``), records wrapped onto the next line without a trailing ``/``, missing
terminators on the last record, and empty currency fields that fall back to the group's currency.
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
from addon.domain.statements.text import clean, decode, minor_units, parse_amount, to_minor
from addon.domain.types import BankLine

FMT = "bai2"
_CODES = ("01", "02", "03", "16", "49", "88", "98", "99")
_RECORD_START = re.compile(r"^\s*(\d{2}),")
# A record ends with "/"; the next record may follow on the same physical line after blanks.
_PACKED = re.compile(r"(?<=/)\s+(?=(?:01|02|03|16|49|88|98|99),)")
_FUNDS_EXTRA = {"V": 2, "S": 3}
_OPENING, _CLOSING = "010", "015"


@dataclass(slots=True)
class _Record:
    code: str
    body: str
    lineno: int
    text: list[str] = field(default_factory=list)  # 88 continuations of a 16 record's text


@dataclass(slots=True)
class _Account:
    number: str
    currency: str
    opening: Decimal | None = None
    closing: Decimal | None = None
    lines: list[BankLine] = field(default_factory=list)


def parse_bai2(data: bytes) -> ParsedStatement:
    """Parse a BAI2 file (one or more groups and accounts); StatementError names the line."""
    records = _records(decode(data, FMT))
    if not records or records[0].code != "01":
        raise StatementError(FMT, "line 1", "file does not start with a 01 file header record")
    accounts: list[_Account] = []
    group_date: date | None = None
    group_currency = "USD"  # the BAI2 default when neither group nor account names a currency
    account: _Account | None = None
    for rec in records:
        fields = rec.body.split(",")
        if rec.code == "02":
            group_date = _date(_field(fields, 3), rec)
            group_currency = _currency(_field(fields, 5), rec) or "USD"
            account = None
        elif rec.code == "03":
            if group_date is None:
                raise StatementError(FMT, f"line {rec.lineno}", "03 account record outside a 02 group")
            account = _account(fields, group_currency, rec)
            accounts.append(account)
        elif rec.code == "16":
            if account is None or group_date is None:
                raise StatementError(FMT, f"line {rec.lineno}", "16 detail record outside a 03 account")
            account.lines.append(_detail(fields, account, group_date, rec))
        elif rec.code == "49":
            account = None
    sections = [
        StatementSection(a.number, a.currency, a.opening, a.closing, None, len(a.lines)) for a in accounts
    ]
    lines = [line for a in accounts for line in a.lines]
    return combine_sections(FMT, sections, lines)


def _records(text: str) -> list[_Record]:
    """Split physical lines into logical records, folding 88 continuations into their parent."""
    records: list[_Record] = []
    for lineno, physical in enumerate(text.splitlines(), start=1):
        for chunk in _PACKED.split(physical.rstrip()):
            if not chunk.strip():
                continue
            match = _RECORD_START.match(chunk)
            if match is None:
                if not records:
                    raise StatementError(FMT, f"line {lineno}", "text before the first record")
                # A record wrapped onto the next physical line without its "/" terminator.
                records[-1].body += " " + _unterminated(chunk)
                continue
            code = match.group(1)
            if code not in _CODES:
                raise StatementError(FMT, f"line {lineno}", f"unknown record type {code!r}")
            body = _unterminated(chunk[match.end():])
            if code == "88":
                if not records:
                    raise StatementError(FMT, f"line {lineno}", "88 continuation with nothing to continue")
                parent = records[-1]
                # Detail text continues verbatim; summary fields continue the comma-separated list.
                if parent.code == "16":
                    parent.text.append(body)
                else:
                    parent.body += "," + body
            else:
                records.append(_Record(code, body, lineno))
    return records


def _unterminated(chunk: str) -> str:
    stripped = chunk.rstrip()
    return stripped[:-1] if stripped.endswith("/") else stripped


def _account(fields: list[str], group_currency: str, rec: _Record) -> _Account:
    number = _field(fields, 0).strip()
    if not number:
        raise StatementError(FMT, f"line {rec.lineno}", "03 record without an account number")
    currency = _currency(_field(fields, 1), rec) or group_currency
    account = _Account(number, currency)
    tokens, index = fields[2:], 0
    while index < len(tokens):
        code = tokens[index].strip()
        if not code:
            index += 1
            continue
        amount_raw = _field(tokens, index + 1).strip()
        funds = _field(tokens, index + 3).strip().upper()
        if amount_raw and code in (_OPENING, _CLOSING):
            amount = _amount(amount_raw, currency, rec)
            if code == _OPENING:
                account.opening = amount
            else:
                account.closing = amount
        index += 4 + _funds_extra(funds, tokens, index + 4)
    return account


def _detail(fields: list[str], account: _Account, booked: date, rec: _Record) -> BankLine:
    type_code = _field(fields, 0).strip()
    if not type_code.isdigit():
        raise StatementError(FMT, f"line {rec.lineno}", f"bad type code {type_code!r}")
    amount = _amount(_field(fields, 1), account.currency, rec)
    if amount < 0:
        raise StatementError(FMT, f"line {rec.lineno}", "detail amounts are unsigned in BAI2")
    funds = _field(fields, 2).strip().upper()
    index = 3
    value_date = None
    if funds == "V":
        value_date = _date(_field(fields, 3), rec)
    index += _funds_extra(funds, fields, index)
    bank_ref = _field(fields, index).strip()
    customer_ref = _field(fields, index + 1).strip()
    text = ",".join(fields[index + 2:]) + "".join(rec.text)
    extra = {"type_code": type_code, "account": account.number}
    if customer_ref:
        extra["customer_reference"] = customer_ref
    return BankLine(
        booking_date=booked,
        amount=to_minor(amount * _sign(int(type_code), rec), account.currency),
        currency=account.currency,
        value_date=value_date,
        remittance_text=clean(text),
        bank_reference=bank_ref or None,
        extra=extra,
    )


def _sign(type_code: int, rec: _Record) -> int:
    # BAI2 type codes: 100-399 credits, 400-699 debits; 900-919 custom credits, 920-999 custom debits.
    if 100 <= type_code <= 399 or 900 <= type_code <= 919:
        return 1
    if 400 <= type_code <= 699 or 920 <= type_code <= 999:
        return -1
    raise StatementError(FMT, f"line {rec.lineno}", f"type code {type_code} is not a credit or debit")


def _funds_extra(funds: str, fields: list[str], index: int) -> int:
    if funds == "D":  # distributed availability: a count, then that many (days, amount) pairs
        count = _field(fields, index).strip()
        return 1 + 2 * int(count) if count.isdigit() else 1
    return _FUNDS_EXTRA.get(funds, 0)


def _field(fields: list[str], index: int) -> str:
    return fields[index] if index < len(fields) else ""


def _amount(raw: str, currency: str, rec: _Record) -> Decimal:
    raw = raw.strip()
    if not raw:
        raise StatementError(FMT, f"line {rec.lineno}", "missing amount")
    # BAI2 writes amounts in minor units without a decimal point ("971" is 9.71 GBP).
    implied = 0 if "." in raw else minor_units(currency)
    return parse_amount(raw, FMT, f"line {rec.lineno}", implied_decimals=implied)


def _currency(raw: str, rec: _Record) -> str | None:
    value = raw.strip().upper()
    if not value:
        return None
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise StatementError(FMT, f"line {rec.lineno}", f"bad currency {raw!r}")
    return value


def _date(raw: str, rec: _Record) -> date:
    value = raw.strip()
    if not re.fullmatch(r"\d{6}", value):
        raise StatementError(FMT, f"line {rec.lineno}", f"bad date {raw!r}")
    try:
        return date(2000 + int(value[:2]), int(value[2:4]), int(value[4:]))
    except ValueError as exc:
        raise StatementError(FMT, f"line {rec.lineno}", f"bad date {raw!r}") from exc
