"""Collections worklist: who to call first, and why.

Priority is the money at risk (amount due x probability of paying late), raised for invoices already
overdue, broken promises and disputes, so collectors spend the morning where it moves cash most.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class WorkItem:
    invoice_id: str
    customer: str
    number: str
    amount_due: Decimal
    due_date: date
    p_late: float | None = None
    promised_on: date | None = None
    disputed: bool = False
    open_tasks: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Prioritised:
    item: WorkItem
    priority: float
    why: str


def prioritise(items: Iterable[WorkItem], today: date, limit: int = 50) -> list[Prioritised]:
    """Rank open invoices by expected money at risk, with a one-line reason each."""
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
        ranked.append(Prioritised(item, float(item.amount_due) * p * urgency, "; ".join(reasons)))
    ranked.sort(key=lambda r: (-r.priority, r.item.due_date, r.item.invoice_id))
    return ranked[:limit]
