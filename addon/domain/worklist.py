"""Collections worklist: who to call first, and why.

Priority is the money at risk (amount due x probability of paying late), raised for invoices already
overdue, broken promises and disputes, so collectors spend the morning where it moves cash most.

Money is compared in the tenant's home currency: each invoice's amount due is converted with the rate
the platform recorded on that invoice (``home_rate``, home currency per unit of the invoice currency),
so 10,000 JPY no longer outranks 5,000 GBP. An invoice in the home currency needs no rate. A foreign
invoice without a rate cannot be valued, and no rate is invented for it: it is ranked after every
invoice that can be valued, those among themselves by the same urgency x late risk without the amount,
and its reason says the rate is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class WorkItem:
    invoice_id: str
    customer: str
    number: str
    amount_due: Decimal  # in ``currency``
    due_date: date
    p_late: float | None = None
    promised_on: date | None = None
    disputed: bool = False
    open_tasks: tuple[str, ...] = field(default_factory=tuple)
    currency: str | None = None  # None: taken to be the home currency
    home_rate: Decimal | None = None  # home currency per 1 unit of ``currency``; None: the platform gave none


@dataclass(frozen=True, slots=True)
class Prioritised:
    item: WorkItem
    priority: float | None  # None: the invoice could not be valued in the home currency (no rate)
    why: str
    home_amount: Decimal | None = None  # amount due in the home currency; None without a rate


def home_amount(item: WorkItem, home_currency: str | None) -> Decimal | None:
    """The item's amount due in the home currency, to the cent; None when it cannot be known.

    The invoice's own rate wins (it is what the books used); without one, an invoice in the home
    currency is worth its amount. ``home_currency`` None (not known yet) values only rated invoices and
    those without a currency of their own."""
    if item.home_rate is not None:
        return (item.amount_due * item.home_rate).quantize(CENT)
    if item.currency is None or item.currency == home_currency:
        return item.amount_due
    return None


def prioritise(items: Iterable[WorkItem], today: date, limit: int = 50,
               home_currency: str | None = None) -> list[Prioritised]:
    """Rank open invoices by expected money at risk in ``home_currency``, with a one-line reason each."""
    ranked = []
    for item in items:
        overdue = (today - item.due_date).days
        p = item.p_late if item.p_late is not None else (0.8 if overdue > 0 else 0.3)
        urgency = 1.0 + max(0, overdue) / 30.0
        reasons = [f"{overdue} days overdue" if overdue > 0 else f"due in {-overdue} days"]
        if item.p_late is not None:
            reasons.append(f"{round(item.p_late * 100)}% late risk")
        if item.promised_on is not None and item.promised_on < today:
            urgency *= 1.5
            reasons.append(f"promise to pay on {item.promised_on.isoformat()} broken")
        if item.disputed:
            urgency *= 1.3
            reasons.append("disputed: resolve before chasing")
        if item.open_tasks:
            reasons.append(", ".join(item.open_tasks))
        value = home_amount(item, home_currency)
        if value is None:
            reasons.append(f"no exchange rate for {item.currency}: listed after the invoices that can be valued")
        priority = float(value) * p * urgency if value is not None else None
        ranked.append((p * urgency, Prioritised(item, priority, "; ".join(reasons), value)))
    ranked.sort(key=_rank_key)
    return [r for _, r in ranked[:limit]]


def _rank_key(entry: tuple[float, Prioritised]) -> tuple[bool, float, date, str]:
    # Valued invoices first, by money at risk; unvalued ones after them, by urgency x late risk alone.
    money_free, r = entry
    return (r.priority is None, -(r.priority if r.priority is not None else money_free), r.item.due_date,
            r.item.invoice_id)
