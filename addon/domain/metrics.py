"""Receivables metrics as finance teams define them: aging buckets, DSO and CEI.

All amounts are Decimal; dates are passed in (``as_of``), never read from the clock. Inputs are
small plain records so the same functions serve the dashboard, reports and tests.

Variants: DSO is the simple period method, AR at ``as_of`` / net credit sales of the trailing period x
its days; CEI the standard (begin AR + net credit sales - end AR) / (begin AR + net credit sales - end
current AR). Net credit sales are invoices issued in the period less credit notes dated in it, so a
credit note lowers sales instead of passing for cash collected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0")
DSO_PERIOD_DAYS = 90
CEI_PERIOD_DAYS = 30
AGING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("current", -10**6, 0), ("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None))


@dataclass(frozen=True, slots=True)
class Receivable:
    """An invoice's life: issued for ``total``; ``settlements`` are (date, amount) payments received,
    ``credits`` (date, amount) credit notes applied to it.

    Both reduce the balance, but only settlements are collections: a credit note takes back part of
    the sale, so DSO and CEI count it against credit sales (net credit sales), not as cash collected.
    """

    invoice_id: str
    issue_date: date
    due_date: date
    total: Decimal
    settlements: tuple[tuple[date, Decimal], ...] = ()
    credits: tuple[tuple[date, Decimal], ...] = ()

    def outstanding_on(self, day: date) -> Decimal:
        """Balance at the end of ``day`` (zero before issue)."""
        if day < self.issue_date:
            return ZERO
        settled = sum((amount for when, amount in (*self.settlements, *self.credits) if when <= day), ZERO)
        return max(ZERO, self.total - settled)


def net_credit_sales(receivables: Iterable[Receivable], start: date, end: date) -> Decimal:
    """Invoices issued in (start, end] less credit notes dated in (start, end]."""
    total = ZERO
    for r in receivables:
        if start < r.issue_date <= end:
            total += r.total
        total -= sum((amount for when, amount in r.credits if start < when <= end), ZERO)
    return total


def aging(receivables: Iterable[Receivable], as_of: date) -> dict[str, Decimal]:
    """Outstanding amounts by days past due at ``as_of`` (current, 1-30, 31-60, 61-90, 90+)."""
    buckets = {name: ZERO for name, _, _ in AGING_BUCKETS}
    for r in receivables:
        balance = r.outstanding_on(as_of)
        if balance <= 0:
            continue
        overdue = (as_of - r.due_date).days
        for name, low, high in AGING_BUCKETS:
            if overdue >= low and (high is None or overdue <= high):
                buckets[name] += balance
                break
    return buckets


def dso(receivables: Sequence[Receivable], as_of: date, period_days: int = DSO_PERIOD_DAYS) -> Decimal | None:
    """Days sales outstanding: receivables at ``as_of`` / net credit sales in the period x period days."""
    sales = net_credit_sales(receivables, as_of - timedelta(days=period_days), as_of)
    if sales <= 0:
        return None
    ar = sum((r.outstanding_on(as_of) for r in receivables), ZERO)
    return (ar / sales * period_days).quantize(Decimal("0.1"), ROUND_HALF_UP)


def cei(receivables: Sequence[Receivable], as_of: date, period_days: int = CEI_PERIOD_DAYS) -> Decimal | None:
    """Collection effectiveness index (%): how much of what could be collected in the period was.

    CEI = (begin AR + net credit sales - end AR) / (begin AR + net credit sales - end current AR) x 100.
    """
    start = as_of - timedelta(days=period_days)
    begin = sum((r.outstanding_on(start) for r in receivables), ZERO)
    sales = net_credit_sales(receivables, start, as_of)
    end_total = sum((r.outstanding_on(as_of) for r in receivables), ZERO)
    end_current = sum((r.outstanding_on(as_of) for r in receivables if r.due_date >= as_of), ZERO)
    collectable = begin + sales - end_current
    if collectable <= 0:
        return None
    return ((begin + sales - end_total) / collectable * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)


def earliest_day_read(as_of: date) -> date:
    """The last day before the periods ``dso`` and ``cei`` read sales in: ``as_of`` - 90 days (DSO's, the
    longer). An invoice issued, or a credit dated, on or before it is in neither period's net credit sales."""
    return as_of - timedelta(days=max(DSO_PERIOD_DAYS, CEI_PERIOD_DAYS))


def earliest_balance_read(as_of: date) -> date:
    """The earliest day a balance is read on: ``as_of`` - 30 days, CEI's opening AR (the others read
    ``as_of``)."""
    return as_of - timedelta(days=CEI_PERIOD_DAYS)


def moves_no_figure(r: Receivable, as_of: date) -> bool:
    """True when ``r`` adds nothing to ``aging``, ``dso`` or ``cei`` at ``as_of`` (default periods), because:

    - it was issued, and every credit is dated, on or before ``earliest_day_read(as_of)``;
    - every settlement is dated on or before ``earliest_balance_read(as_of)``;
    - together, settlements and credits cover its total.

    Proof. ``outstanding_on(day)`` for a day on or after ``earliest_balance_read`` counts every settlement
    and credit (all dated on or before it), which cover the total: ``max(0, total - settled) = 0``.
    ``aging`` and ``dso`` read balances at ``as_of``, ``cei`` at ``as_of`` and ``as_of - 30``: each is 0
    (``aging`` skips a zero balance). ``net_credit_sales(start, end]`` counts the total of invoices issued
    after ``start`` and the credits dated after it; ``start`` is ``as_of - 90`` (DSO) or ``as_of - 30``
    (CEI), both on or after ``earliest_day_read``, on or after the issue date and every credit: nothing is
    counted. Nothing assumes amounts are positive or that a balance only falls: every row is counted.
    Conversely, an invoice issued or credited a day later, or paid a day later, can move DSO or CEI
    (tests/domain/test_metrics_cutoff.py). The dashboard applies this predicate in SQL.
    """
    sales_from, balances_from = earliest_day_read(as_of), earliest_balance_read(as_of)
    return (r.issue_date <= sales_from and all(when <= sales_from for when, _ in r.credits)
            and all(when <= balances_from for when, _ in r.settlements)
            and sum((amount for _, amount in (*r.settlements, *r.credits)), ZERO) >= r.total)
