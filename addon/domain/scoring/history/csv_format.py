"""The history CSV format, the exchange format of ``cashline model evaluate/train/score``: header columns
``invoice_id, customer_id, issue_date, due_date, amount, currency, paid_date`` (ISO dates, ``paid_date``
empty when unpaid) plus optional ``disputed, country`` and the richer columns of ``OPTIONAL_COLUMNS``
(docs/risk-model.md, "Input: the history CSV").
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, TypeVar

from addon.domain.scoring.history.record import HistoryInvoice

REQUIRED_COLUMNS = ("invoice_id", "customer_id", "issue_date", "due_date", "amount", "currency", "paid_date")
OPTIONAL_COLUMNS = ("disputed", "country", "credited", "partial_payments", "sent", "reminders_sent",
                    "promised", "payments", "reminder_dates", "promises", "dispute_date", "dispute_resolved_date")
_TRUE = {"1", "true", "yes", "y", "t"}
T = TypeVar("T")


class HistoryFormatError(ValueError):
    """A history CSV that cannot be read (missing column, bad date or amount)."""


def read_history_csv(stream: IO[str]) -> list[HistoryInvoice]:
    """Parse the history CSV format into records (raises HistoryFormatError with the line number)."""
    reader = csv.DictReader(stream)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise HistoryFormatError(f"history CSV is missing columns: {', '.join(missing)}")
    reader.fieldnames = header
    out = []
    first_line: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        try:
            inv = _parse_row(row)
        except (ValueError, InvalidOperation) as exc:
            raise HistoryFormatError(f"line {line}: {exc}") from exc
        # A repeated invoice would be counted twice in every customer statistic and in the test set.
        if inv.invoice_id in first_line:
            raise HistoryFormatError(f"line {line}: invoice_id {inv.invoice_id!r} already appears on line "
                                     f"{first_line[inv.invoice_id]}")
        first_line[inv.invoice_id] = line
        out.append(inv)
    return out


def _parse_row(row: dict[str, str]) -> HistoryInvoice:
    def text(name: str) -> str:
        return (row.get(name) or "").strip()

    def day(name: str) -> date | None:
        return _date_column(name, text(name)) if text(name) else None

    for name in ("invoice_id", "customer_id"):
        if not text(name):
            raise ValueError(f"{name} is empty")
    issued, due = _date_column("issue_date", text("issue_date")), _date_column("due_date", text("due_date"))
    if due < issued:
        raise ValueError(f"due_date {due} is before issue_date {issued}")
    return HistoryInvoice(
        invoice_id=text("invoice_id"), customer_id=text("customer_id"),
        issue_date=issued, due_date=due,
        amount=_number_column("amount", text("amount")), currency=text("currency").upper(),
        paid_date=day("paid_date"),
        disputed=text("disputed").lower() in _TRUE,
        credited=_number_column("credited", text("credited") or "0"),
        partial_payments=_count_column("partial_payments", text("partial_payments")),
        sent=text("sent").lower() in _TRUE if text("sent") else True,
        reminders_sent=_count_column("reminders_sent", text("reminders_sent")),
        promised=text("promised").lower() in _TRUE,
        country=text("country") or None,
        payments=_payments(text("payments")),
        reminder_dates=_reminder_dates(text("reminder_dates")),
        promises=_promises(text("promises")),
        dispute_date=day("dispute_date"),
        dispute_resolved_date=day("dispute_resolved_date"),
    )


# Dates the model can do its arithmetic on: it adds and subtracts hundreds of days (snapshot offsets,
# trend windows, expected pay dates), which overflows Python's date range near year 1 or 9999.
FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(2999, 12, 31)


def _date_column(name: str, value: str) -> date:
    """``value`` of the date column ``name``, with a message that names the column."""
    try:
        day = _iso_date(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not an ISO date (YYYY-MM-DD)") from None
    return _in_range(name, day)


def _in_range(name: str, day: date) -> date:
    """``day`` if the model can do its arithmetic on it, else a ValueError naming the column ``name``."""
    if not FIRST_DATE <= day <= LAST_DATE:
        raise ValueError(f"{name} {day} is outside {FIRST_DATE} .. {LAST_DATE}")
    return day


def _number_column(name: str, value: str) -> Decimal:
    """``value`` of the amount column ``name``: a finite decimal that also fits a float (the model's)."""
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{name} {value!r} is not a number") from None
    if not amount.is_finite():
        raise ValueError(f"{name} {value!r} is not a number")
    if not math.isfinite(float(amount)):
        raise ValueError(f"{name} {value!r} is too large")
    return amount


def _count_column(name: str, value: str) -> int:
    try:
        return int(value or "0")
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a whole number") from None


def _reminder_dates(value: str) -> tuple[date, ...]:
    """The ``reminder_dates`` column: dates separated by ``;``, each checked as the other date columns are."""
    return tuple(sorted(_date_column("reminder_dates", d.strip()) for d in value.split(";") if d.strip()))


def _promises(value: str) -> tuple[tuple[date, date], ...]:
    """The ``promises`` column: ``RECORDED:PROMISED`` date pairs separated by ``;`` (``2026-01-10:2026-01-20``)."""
    pairs = _dated_pairs(value, "promises", "RECORDED:PROMISED", _iso_date)
    for _, promised in pairs:
        _in_range("promises", promised)
    return pairs


def _payments(value: str) -> tuple[tuple[date, Decimal], ...]:
    """The ``payments`` column: ``DATE:AMOUNT`` pairs separated by ``;`` (e.g. ``2026-01-03:120.00``)."""
    return _dated_pairs(value, "payments", "DATE:AMOUNT", _finite_amount)


def _dated_pairs(value: str, column: str, shape: str, second: Callable[[str], T]) -> tuple[tuple[date, T], ...]:
    """``column``'s ``;``-separated ``DATE:SECOND`` pairs in date order (a pair that is not one, or a date
    out of range: ValueError)."""
    out = []
    for item in (part.strip() for part in value.split(";")):
        if not item:
            continue
        first, sep, rest = item.partition(":")
        problem = ValueError(f"{column} entry {item!r} is not {shape}")
        if not sep:
            raise problem
        try:
            pair = (_iso_date(first.strip()), second(rest.strip()))
        except (ValueError, InvalidOperation):
            raise problem from None
        _in_range(column, pair[0])
        out.append(pair)
    return tuple(sorted(out))  # type: ignore[type-var]


def _finite_amount(text: str) -> Decimal:
    amount = Decimal(text)
    if not amount.is_finite():
        raise ValueError(text)
    return amount


def _iso_date(value: str) -> date:
    """An ISO 8601 date; an ISO timestamp (as some ledgers export dates) counts as its calendar date."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            raise ValueError(f"Invalid isoformat string: {value!r}") from None


def write_history_csv(invoices: Sequence[HistoryInvoice], stream: IO[str]) -> None:
    """Write records in the history CSV format (required columns plus every optional one)."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS))
    for inv in invoices:
        writer.writerow((
            inv.invoice_id, inv.customer_id, inv.issue_date.isoformat(), inv.due_date.isoformat(),
            str(inv.amount), inv.currency, inv.paid_date.isoformat() if inv.paid_date else "",
            int(inv.disputed), inv.country or "", str(inv.credited), inv.partial_payments, int(inv.sent),
            inv.reminders_sent, int(inv.promised),
            ";".join(f"{day.isoformat()}:{amount}" for day, amount in inv.payments),
            ";".join(day.isoformat() for day in inv.reminder_dates),
            ";".join(f"{made.isoformat()}:{promised.isoformat()}" for made, promised in inv.promises),
            inv.dispute_date.isoformat() if inv.dispute_date else "",
            inv.dispute_resolved_date.isoformat() if inv.dispute_resolved_date else "",
        ))
