"""The risk model's input record: one invoice and its outcome, and the history as it looked on a day."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal


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


def last_date(invoices: Iterable[HistoryInvoice]) -> date:
    """The last day the history says anything about: its latest issue or settlement date."""
    return max(max(i.issue_date, i.paid_date or i.issue_date) for i in invoices)


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
