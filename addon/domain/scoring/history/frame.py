"""The history as numpy columns (``HistoryFrame``) and the invoices' dated events (``InvoiceEvents``):
what the feature code reads, without building a record per invoice."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from addon.domain.scoring.history.record import HistoryInvoice

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
