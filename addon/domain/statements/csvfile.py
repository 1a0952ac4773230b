"""Bank CSV exports to normalised bank lines through a :class:`CsvMapping`."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal

from addon.domain.statements.csv_mapping import BUILTIN_MAPPINGS, Column, CsvMapping
from addon.domain.statements.model import ParsedStatement, StatementError, StatementSection
from addon.domain.statements.text import (
    clean,
    decode,
    join_text,
    normalise_account,
    parse_amount,
    to_minor,
)
from addon.domain.types import BankLine

FMT = "csv"
_DELIMITERS = ",;\t|"
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_EXCEL_SEP = re.compile(r"^sep=(.)\r?\n")


class _Rows:
    """Data rows with their physical line numbers and a column resolver."""

    def __init__(self, text: str, mapping: CsvMapping) -> None:
        self.mapping = mapping
        excel_sep = _EXCEL_SEP.match(text)
        if excel_sep:
            # Excel's "sep=;" first line names the delimiter; it is not part of the data.
            text = text[excel_sep.end():]
        delimiter = mapping.delimiter or (excel_sep.group(1) if excel_sep else _sniff(text))
        offset = 1 if excel_sep else 0
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=mapping.quotechar)
        self.rows: list[tuple[int, list[str]]] = []
        self.header: list[str] = []
        try:
            for row in reader:
                if reader.line_num <= mapping.skip_rows:
                    continue
                cells = [c.strip().strip(mapping.strip_chars).strip() for c in row]
                if not any(cells):
                    continue
                if mapping.has_header and not self.header:
                    self.header = cells
                    continue
                self.rows.append((reader.line_num + offset, cells))
        except csv.Error as exc:
            where = f"line {reader.line_num + offset}"
            raise StatementError(FMT, where, f"malformed CSV: {exc}") from exc

    def index(self, column: Column) -> int:
        """0-based position of a column named by header text or index."""
        if isinstance(column, int):
            return column
        try:
            return self.header.index(column)
        except ValueError:
            raise StatementError(FMT, "line 1", f"header has no column {column!r}") from None

    def matches(self) -> bool:
        """Whether this file looks like what the mapping describes (for auto-detection)."""
        if self.mapping.has_header:
            names = [c for c in self.mapping.columns() if isinstance(c, str)]
            return bool(self.header) and all(n in self.header for n in names)
        if not self.rows:
            return False
        width = max(c for c in self.mapping.columns() if isinstance(c, int)) + 1
        line, first = self.rows[0]
        if len(first) < width:
            return False
        try:
            _row_to_line(self, line, first)
        except StatementError:
            return False
        return True


def parse_csv(data: bytes, mapping: CsvMapping | None = None) -> ParsedStatement:
    """Parse a CSV export with the given mapping, or the built-in mapping whose layout fits."""
    text = decode(data, FMT, mapping.encoding if mapping else None)
    if mapping is None:
        rows = _guess(text)
    else:
        rows = _Rows(text, mapping)
        for column in mapping.columns():
            rows.index(column)  # fail early, naming the missing header column
    lines = [_row_to_line(rows, line, cells) for line, cells in rows.rows]
    accounts = {line.extra.get("account") for line in lines}
    currencies = {line.currency for line in lines}
    account = next(iter(accounts)) if len(accounts) == 1 else None
    currency = next(iter(currencies)) if len(currencies) == 1 else None
    section = StatementSection(account, currency, None, None, None, len(lines))
    return ParsedStatement(FMT, account, currency, None, None, None, lines, (section,))


def _guess(text: str) -> _Rows:
    for mapping in BUILTIN_MAPPINGS.values():
        try:
            rows = _Rows(text, mapping)
        except StatementError:
            continue
        if rows.matches():
            return rows
    raise StatementError(FMT, "line 1", "no column mapping given and no built-in mapping fits the header")


def _sniff(text: str) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in _DELIMITERS}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _cell(rows: _Rows, cells: list[str], column: Column | None) -> str | None:
    if column is None:
        return None
    index = rows.index(column)
    return (cells[index] or None) if index < len(cells) else None


def _row_to_line(rows: _Rows, line: int, cells: list[str]) -> BankLine:
    mapping = rows.mapping
    where = f"line {line}"
    booking = _date(_cell(rows, cells, mapping.date), mapping.date_format, where, required=True)
    assert booking is not None  # required=True never returns None
    currency = (_cell(rows, cells, mapping.currency) or mapping.default_currency or "").upper()
    if not _CURRENCY.match(currency):
        raise StatementError(FMT, where, f"missing or bad currency {currency!r}")
    extra: dict[str, str] = {}
    for column in mapping.extra_columns:
        value = _cell(rows, cells, column)
        if value:
            extra[_column_name(rows, column)] = value
    own_account = normalise_account(_cell(rows, cells, mapping.account))
    if own_account:
        extra["account"] = own_account
    _original(rows, cells, extra, where)
    return BankLine(
        booking_date=booking,
        amount=to_minor(_amount(rows, cells, where), currency),
        currency=currency,
        value_date=_date(_cell(rows, cells, mapping.value_date), mapping.date_format, where),
        counterparty_name=clean(_cell(rows, cells, mapping.counterparty)),
        counterparty_account=normalise_account(_cell(rows, cells, mapping.counterparty_account)),
        structured_reference=clean(_cell(rows, cells, mapping.reference)),
        remittance_text=join_text(*(_cell(rows, cells, c) for c in mapping.text)),
        bank_reference=clean(_cell(rows, cells, mapping.bank_reference)),
        extra=extra,
    )


def _column_name(rows: _Rows, column: Column) -> str:
    if isinstance(column, str):
        return column
    return rows.header[column] if column < len(rows.header) else f"column_{column}"


def _amount(rows: _Rows, cells: list[str], where: str) -> Decimal:
    mapping = rows.mapping
    sep = mapping.decimal_separator
    if mapping.amount is not None:
        raw = _cell(rows, cells, mapping.amount)
        if raw is None:
            raise StatementError(FMT, where, "empty amount")
        value = parse_amount(raw, FMT, where, decimal_separator=sep)
        if mapping.direction is not None:
            marker = (_cell(rows, cells, mapping.direction) or "").strip().upper()
            markers = {m.upper() for m in mapping.debit_markers}
            value = -abs(value) if marker in markers else abs(value)
        return value
    debit = _cell(rows, cells, mapping.debit)
    credit = _cell(rows, cells, mapping.credit)
    if debit is None and credit is None:
        raise StatementError(FMT, where, "neither debit nor credit amount")
    total = Decimal(0)
    if credit is not None:
        total += abs(parse_amount(credit, FMT, where, decimal_separator=sep))
    if debit is not None:
        total -= abs(parse_amount(debit, FMT, where, decimal_separator=sep))
    return total


def _original(rows: _Rows, cells: list[str], extra: dict[str, str], where: str) -> None:
    mapping = rows.mapping
    raw = _cell(rows, cells, mapping.original_amount)
    if raw is None:
        return
    value = parse_amount(raw, FMT, where, decimal_separator=mapping.decimal_separator)
    if value:
        extra["instructed_amount"] = str(value)
        extra["instructed_currency"] = (_cell(rows, cells, mapping.original_currency) or "").upper()


def _date(raw: str | None, fmt: str, where: str, *, required: bool = False) -> date | None:
    if raw is None:
        if required:
            raise StatementError(FMT, where, "empty date")
        return None
    try:
        return datetime.strptime(raw.strip(), fmt).date()
    except ValueError as exc:
        raise StatementError(FMT, where, f"bad date {raw!r} (expected {fmt})") from exc
