"""The risk model's input record (one invoice and its outcome) and the history CSV format.

The CSV is the exchange format of ``cashline model evaluate/train/score``: header columns
``invoice_id, customer_id, issue_date, due_date, amount, currency, paid_date`` (ISO dates, ``paid_date``
empty when unpaid) plus optional ``disputed, country`` and the optional richer columns below.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import IO

REQUIRED_COLUMNS = ("invoice_id", "customer_id", "issue_date", "due_date", "amount", "currency", "paid_date")
OPTIONAL_COLUMNS = ("disputed", "country", "credited", "partial_payments", "sent", "reminders_sent",
                    "promised")
_TRUE = {"1", "true", "yes", "y", "t"}


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
        return known_from <= as_of


def as_seen_at(invoices: Iterable[HistoryInvoice], as_of: date) -> list[HistoryInvoice]:
    """The history as it looked at ``as_of``: later invoices dropped, later settlements undone."""
    out = []
    for inv in invoices:
        if inv.issue_date > as_of:
            continue
        if inv.paid_date is not None and inv.paid_date >= as_of:
            inv = replace(inv, paid_date=None)
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
    for line, row in enumerate(reader, start=2):
        try:
            out.append(_parse_row(row))
        except (ValueError, InvalidOperation) as exc:
            raise HistoryFormatError(f"line {line}: {exc}") from exc
    return out


def _parse_row(row: dict[str, str]) -> HistoryInvoice:
    def text(name: str) -> str:
        return (row.get(name) or "").strip()

    paid = text("paid_date")
    return HistoryInvoice(
        invoice_id=text("invoice_id"), customer_id=text("customer_id"),
        issue_date=date.fromisoformat(text("issue_date")), due_date=date.fromisoformat(text("due_date")),
        amount=Decimal(text("amount")), currency=text("currency").upper(),
        paid_date=date.fromisoformat(paid) if paid else None,
        disputed=text("disputed").lower() in _TRUE,
        credited=Decimal(text("credited") or "0"),
        partial_payments=int(text("partial_payments") or "0"),
        sent=text("sent").lower() in _TRUE if text("sent") else True,
        reminders_sent=int(text("reminders_sent") or "0"),
        promised=text("promised").lower() in _TRUE,
        country=text("country") or None,
    )


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
        ))
