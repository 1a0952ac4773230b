"""The risk model's input record (one invoice and its outcome) and the history CSV format.

The CSV is the exchange format of ``cashline model evaluate/train/score``: header columns
``invoice_id, customer_id, issue_date, due_date, amount, currency, paid_date`` (ISO dates, ``paid_date``
empty when unpaid) plus optional ``disputed, country`` and the optional richer columns below.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, TypeVar

import numpy as np
import numpy.typing as npt

REQUIRED_COLUMNS = ("invoice_id", "customer_id", "issue_date", "due_date", "amount", "currency", "paid_date")
OPTIONAL_COLUMNS = ("disputed", "country", "credited", "partial_payments", "sent", "reminders_sent",
                    "promised", "payments", "reminder_dates", "promises", "dispute_date", "dispute_resolved_date")
_TRUE = {"1", "true", "yes", "y", "t"}
T = TypeVar("T")


class HistoryFormatError(ValueError):
    """A history CSV that cannot be read (missing column, bad date or amount)."""


@dataclass(frozen=True, slots=True)
class HistoryInvoice:
    """One invoice as the risk model sees it; ``paid_date`` is when it was fully settled (None if open)."""

    invoice_id: str
    customer_id: str
    issue_date: date
    due_date: date
    amount: Decimal
    currency: str
    paid_date: date | None = None
    disputed: bool = False
    credited: Decimal = Decimal(0)
    partial_payments: int = 0
    sent: bool = True
    reminders_sent: int = 0
    promised: bool = False
    country: str | None = None
    # When the dispute was raised, if known; otherwise a dispute counts as visible from the due date.
    dispute_date: date | None = None
    dispute_resolved_date: date | None = None  # when it was resolved (the invoice still *was* disputed)
    # Dated events, for the open invoice's state at a scoring date (the counts above carry no dates, so
    # the model cannot use them without leaking): every payment applied to it, (date, amount), and the
    # days reminders were sent.
    payments: tuple[tuple[date, Decimal], ...] = ()
    reminder_dates: tuple[date, ...] = ()
    promises: tuple[tuple[date, date], ...] = ()  # (day the promise was recorded, day promised), in order

    @property
    def terms_days(self) -> int:
        return (self.due_date - self.issue_date).days

    def delay_days(self) -> int | None:
        """Days between the due date and settlement (negative = early); None while unpaid."""
        return None if self.paid_date is None else (self.paid_date - self.due_date).days

    def settled_before(self, as_of: date) -> bool:
        """True if the invoice was fully settled strictly before ``as_of``."""
        return self.paid_date is not None and self.paid_date < as_of

    def dispute_visible(self, as_of: date) -> bool:
        """True if a dispute on this invoice would be known at ``as_of``."""
        if not self.disputed:
            return False
        known_from = self.dispute_date if self.dispute_date is not None else self.due_date
        return known_from <= as_of and (self.dispute_resolved_date is None or as_of < self.dispute_resolved_date)


def as_seen_at(invoices: Iterable[HistoryInvoice], as_of: date) -> list[HistoryInvoice]:
    """The history as it looked at ``as_of``: later invoices dropped, later settlements undone."""
    out = []
    for inv in invoices:
        if inv.issue_date > as_of:
            continue
        if inv.paid_date is not None and inv.paid_date >= as_of:
            inv = replace(inv, paid_date=None)
        if (any(day >= as_of for day, _ in inv.payments) or any(day >= as_of for day in inv.reminder_dates)
                or any(made >= as_of for made, _ in inv.promises)):
            inv = replace(inv, payments=tuple(p for p in inv.payments if p[0] < as_of),
                          reminder_dates=tuple(d for d in inv.reminder_dates if d < as_of),
                          promises=tuple(p for p in inv.promises if p[0] < as_of))
        out.append(inv)
    return out


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


# --- the same history as columns ------------------------------------------------------------------

NO_DATE = 10**9  # "not settled" as a day ordinal: later than every real date
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def decimal_string_rank(numbers: IntArray) -> IntArray:
    """Sort keys of non-negative integers that order them as their decimal strings do ("10" < "9").

    Ties in settlement order are broken by invoice id *as a string*; a service that keys invoices by
    integer primary key gets the same order without building a million strings.
    """
    values = np.asarray(numbers, dtype=np.int64)
    if len(values) and int(values.min()) < 0:
        raise ValueError("decimal_string_rank takes non-negative integers")
    digits = np.ones(len(values), dtype=np.int64)
    power = 10
    while len(values) and power <= int(values.max()):
        digits += values >= power
        power *= 10
    width = int(digits.max()) if len(values) else 1
    # Right-pad to a common width ("9" -> 900, "10" -> 100); a shorter string sorts before its extensions.
    padded = values * 10 ** (width - digits)
    return padded * (width + 1) + digits


_ROW_KEY = 1 << 31  # row * _ROW_KEY + day ordinal: one sorted key per (invoice row, day)
OPEN_STATE = ("paid_share", "days_since_part_payment", "reminders_sent", "days_since_reminder",
              "promise_days_ahead")


@dataclass(slots=True)
class InvoiceEvents:
    """Dated events of a frame's invoices as flat columns, each sorted by (row, day): the payments applied
    to them (day, amount), the reminders sent (day) and the promises to pay (day recorded, day promised)."""

    pay_row: IntArray
    pay_day: IntArray
    pay_amount: FloatArray
    remind_row: IntArray
    remind_day: IntArray
    promise_row: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    promise_day: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    promised_for: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @classmethod
    def build(cls, pay_row: IntArray, pay_day: IntArray, pay_amount: FloatArray, remind_row: IntArray,
              remind_day: IntArray, promise_row: IntArray | None = None, promise_day: IntArray | None = None,
              promised_for: IntArray | None = None) -> InvoiceEvents:
        """Events from unsorted columns."""
        p = np.lexsort((pay_day, pay_row))
        r = np.lexsort((remind_day, remind_row))
        none = np.zeros(0, dtype=np.int64)
        promise_row = none if promise_row is None else promise_row
        promise_day = none if promise_day is None else promise_day
        promised_for = none if promised_for is None else promised_for
        k = np.lexsort((promised_for, promise_day, promise_row))  # same-day promises: the later date last
        return cls(pay_row[p], pay_day[p], pay_amount[p], remind_row[r], remind_day[r], promise_row[k],
                   promise_day[k], promised_for[k])

    @classmethod
    def from_records(cls, invoices: Sequence[HistoryInvoice]) -> InvoiceEvents:
        """Events of ``invoices``, row n being ``invoices[n]``."""
        return cls.from_lists(
            [(n, day.toordinal(), float(amount)) for n, inv in enumerate(invoices) for day, amount in inv.payments],
            [(n, day.toordinal()) for n, inv in enumerate(invoices) for day in inv.reminder_dates],
            [(n, made.toordinal(), promised.toordinal()) for n, inv in enumerate(invoices)
             for made, promised in inv.promises])

    @classmethod
    def from_lists(cls, payments: Sequence[tuple[int, int, float]], reminders: Sequence[tuple[int, int]],
                   promises: Sequence[tuple[int, int, int]] = ()) -> InvoiceEvents:
        """Events from (row, day ordinal, amount) payments, (row, day ordinal) reminders and (row, day
        recorded, day promised) promises."""
        p = np.array(payments, dtype=np.float64).reshape(len(payments), 3)
        r = np.array(reminders, dtype=np.int64).reshape(len(reminders), 2)
        k = np.array(promises, dtype=np.int64).reshape(len(promises), 3)
        return cls.build(p[:, 0].astype(np.int64), p[:, 1].astype(np.int64), p[:, 2], r[:, 0], r[:, 1],
                         k[:, 0], k[:, 1], k[:, 2])

    def take(self, rows: IntArray, size: int) -> InvoiceEvents:
        """The events of ``rows`` (of a frame of ``size`` rows), renumbered as the frame's ``take(rows)``."""
        new = np.full(size, -1, dtype=np.int64)
        new[rows] = np.arange(len(rows))
        p, r, k = new[self.pay_row] >= 0, new[self.remind_row] >= 0, new[self.promise_row] >= 0
        return InvoiceEvents.build(new[self.pay_row[p]], self.pay_day[p], self.pay_amount[p],
                                   new[self.remind_row[r]], self.remind_day[r], new[self.promise_row[k]],
                                   self.promise_day[k], self.promised_for[k])

    def state_at(self, rows: IntArray, t: IntArray, amount: FloatArray) -> FloatArray:
        """Per (row, day ordinal ``t``), from events strictly before ``t``: the share of ``amount`` paid,
        days since the last payment, reminders sent, days since the last reminder, and days from ``t`` to
        the day last promised (negative: the promise is broken) (NaN: none yet). Columns in OPEN_STATE order."""
        out = np.full((len(rows), len(OPEN_STATE)), np.nan)
        lo, hi = self._span(self.pay_row, self.pay_day, rows, t)
        cum = np.concatenate(([0.0], np.cumsum(self.pay_amount)))
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, 0] = np.where(amount > 0, np.clip((cum[hi] - cum[lo]) / amount, 0.0, 1.0), 0.0)
        out[:, 1] = np.where(hi > lo, t - self.pay_day[np.maximum(hi - 1, 0)], np.nan) if len(self.pay_day) else np.nan
        lo, hi = self._span(self.remind_row, self.remind_day, rows, t)
        out[:, 2] = hi - lo
        out[:, 3] = (np.where(hi > lo, t - self.remind_day[np.maximum(hi - 1, 0)], np.nan) if len(self.remind_day)
                     else np.nan)
        lo, hi = self._span(self.promise_row, self.promise_day, rows, t)
        out[:, 4] = (np.where(hi > lo, self.promised_for[np.maximum(hi - 1, 0)] - t, np.nan) if len(self.promise_day)
                     else np.nan)
        return out

    @staticmethod
    def _span(row: IntArray, day: IntArray, rows: IntArray, t: IntArray) -> tuple[IntArray, IntArray]:
        key = row * _ROW_KEY + day
        return np.searchsorted(key, rows * _ROW_KEY), np.searchsorted(key, rows * _ROW_KEY + t)


@dataclass(slots=True)
class HistoryFrame:
    """A history as columns, one entry per invoice: what the feature code reads, without records.

    Dates are day ordinals (``date.toordinal``); ``paid`` is ``NO_DATE`` while unpaid. Text columns are
    codes into small tables (``customers``, ``currencies``, ``countries``; country -1 = none).
    Invoice ids are either ``ids`` (strings) or ``pks`` (integers whose ``str`` is the id).
    """

    customers: list[str]
    customer: IntArray
    issue: IntArray
    due: IntArray
    paid: IntArray
    amount: FloatArray
    currencies: list[str]
    currency: IntArray
    countries: list[str]
    country: IntArray
    disputed: BoolArray
    dispute_from: IntArray  # the day a dispute becomes visible: its dispute_date, else the due date
    credited: BoolArray  # any credit note
    partial: BoolArray  # any partial payment
    sent: BoolArray
    id_rank: IntArray  # orders invoices as their ids sort as strings
    ids: Sequence[str] | None = None
    pks: IntArray | None = None
    records: Sequence[HistoryInvoice] | None = None  # the records the frame was built from, if any
    events: InvoiceEvents | None = None  # dated payments and reminders (None: none known)
    dispute_until: IntArray | None = None  # the day a dispute was resolved, NO_DATE if not (None: none was)

    @property
    def size(self) -> int:
        return len(self.issue)

    def invoice_id(self, row: int) -> str:
        if self.ids is not None:
            return self.ids[row]
        assert self.pks is not None
        return str(int(self.pks[row]))

    def index(self) -> dict[str, int]:
        """Invoice id -> row."""
        if self.ids is not None:
            return {inv_id: n for n, inv_id in enumerate(self.ids)}
        assert self.pks is not None
        return {str(pk): n for n, pk in enumerate(self.pks.tolist())}

    def records_at(self, rows: IntArray) -> list[HistoryInvoice]:
        """The invoices at ``rows`` as records: the original ones when the frame was built from records,
        else rebuilt from the columns (credit notes and partial payments then only as 0/1 flags)."""
        if self.records is not None:
            return [self.records[r] for r in rows.tolist()]
        days: dict[int, date | None] = {NO_DATE: None}

        def day(ordinal: int) -> date | None:
            found = days.get(ordinal, date.min)
            if found is date.min:
                found = days[ordinal] = date.fromordinal(ordinal)
            return found

        out = []
        columns = zip(rows.tolist(), self.customer[rows].tolist(), self.issue[rows].tolist(), self.due[rows].tolist(),
                      self.amount[rows].tolist(), self.currency[rows].tolist(), self.paid[rows].tolist(),
                      self.disputed[rows].tolist(), self.credited[rows].tolist(), self.partial[rows].tolist(),
                      self.sent[rows].tolist(), self.country[rows].tolist(), self.dispute_from[rows].tolist(),
                      strict=True)
        for (row, cust, issue, due, amount, cur, paid, disputed, credited, partial, sent, country,
             disputed_on) in columns:
            out.append(HistoryInvoice(
                self.invoice_id(row), self.customers[cust], day(issue), day(due),  # type: ignore[arg-type]
                Decimal(repr(amount)), self.currencies[cur], day(paid), disputed, Decimal(int(credited)),
                int(partial), sent, 0, False, self.countries[country] if country >= 0 else None,
                None if disputed_on == due else day(disputed_on)))
        return out

    def take(self, rows: IntArray) -> HistoryFrame:
        """The frame restricted to ``rows`` (code tables shared)."""
        return HistoryFrame(
            self.customers, self.customer[rows], self.issue[rows], self.due[rows], self.paid[rows],
            self.amount[rows], self.currencies, self.currency[rows], self.countries, self.country[rows],
            self.disputed[rows], self.dispute_from[rows], self.credited[rows], self.partial[rows],
            self.sent[rows], self.id_rank[rows],
            ids=[self.ids[i] for i in rows.tolist()] if self.ids is not None else None,
            pks=self.pks[rows] if self.pks is not None else None,
            events=self.events.take(rows, self.size) if self.events is not None else None,
            dispute_until=self.dispute_until[rows] if self.dispute_until is not None else None)

    def dispute_open(self, rows: IntArray, t: IntArray) -> BoolArray:
        """Whether each row's dispute is known and not yet resolved on day ordinal ``t``."""
        visible = self.disputed[rows] & (self.dispute_from[rows] <= t)
        return visible & (t < self.dispute_until[rows]) if self.dispute_until is not None else visible

    def open_state(self, rows: IntArray, t: IntArray) -> FloatArray:
        """``InvoiceEvents.state_at`` for ``rows`` (no events known: nothing paid, no reminders)."""
        events = self.events if self.events is not None else InvoiceEvents.build(*_NO_EVENTS)
        return events.state_at(rows, t, self.amount[rows])

    def seen_at(self, as_of: date) -> tuple[HistoryFrame, IntArray]:
        """``as_seen_at`` on columns: the frame at ``as_of`` and, per row of ``self``, its row there (-1: dropped)."""
        t = as_of.toordinal()
        kept = np.flatnonzero(self.issue <= t)
        seen = self.take(kept)
        seen.paid = np.where(seen.paid >= t, NO_DATE, seen.paid)
        where = np.full(self.size, -1, dtype=np.int64)
        where[kept] = np.arange(len(kept))
        return seen, where

    @classmethod
    def from_records(cls, invoices: Sequence[HistoryInvoice]) -> HistoryFrame:
        """Columns of ``invoices`` (which the frame keeps, so ``record`` returns them unchanged)."""
        customers: dict[str, int] = {}
        currencies: dict[str, int] = {}
        countries: dict[str, int] = {}
        cust, cur, ctry, issue, due, paid, dispute_from = [], [], [], [], [], [], []
        for inv in invoices:
            cust.append(customers.setdefault(inv.customer_id, len(customers)))
            cur.append(currencies.setdefault(inv.currency, len(currencies)))
            ctry.append(countries.setdefault(inv.country, len(countries)) if inv.country else -1)
            issue.append(inv.issue_date.toordinal())
            d = inv.due_date.toordinal()
            due.append(d)
            paid.append(inv.paid_date.toordinal() if inv.paid_date is not None else NO_DATE)
            dispute_from.append(inv.dispute_date.toordinal() if inv.dispute_date is not None else d)
        ids = [inv.invoice_id for inv in invoices]
        rank = np.unique(np.array(ids, dtype=str), return_inverse=True)[1] if ids else np.zeros(0)

        def ints(values: list[int]) -> IntArray:
            return np.array(values, dtype=np.int64).reshape(len(values))

        def flags(values: Iterable[object]) -> BoolArray:
            return np.fromiter((bool(v) for v in values), dtype=bool, count=len(invoices))

        return cls(
            list(customers), ints(cust), ints(issue), ints(due), ints(paid),
            np.fromiter((float(i.amount) for i in invoices), dtype=np.float64, count=len(invoices)),
            list(currencies), ints(cur), list(countries), ints(ctry),
            flags(i.disputed for i in invoices), ints(dispute_from), flags(i.credited > 0 for i in invoices),
            flags(i.partial_payments > 0 for i in invoices), flags(i.sent for i in invoices),
            np.asarray(rank, dtype=np.int64).reshape(len(ids)), ids=ids, records=invoices,
            events=InvoiceEvents.from_records(invoices),
            dispute_until=ints([i.dispute_resolved_date.toordinal() if i.dispute_resolved_date else NO_DATE
                                for i in invoices]))


_NO_EVENTS = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64),
              np.zeros(0, dtype=np.int64))  # no payments, no reminders (and no promises)
