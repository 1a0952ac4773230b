"""The tenant's own write-off history, read from the mirror, as addon.domain.write_offs inputs.

The mirror has no "voided on" column: a voided invoice's last change on the platform
(``remote_updated_at``) is when it was voided, since a voided invoice cannot be edited again. A deleted
one (QBO reports deletions without a date) is dated when the mirror learned of it (``updated_at``), the
earliest day Cashline knew.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.domain.write_offs import PastInvoice
from addon.models import Invoice

Dated = Sequence[tuple[date, Decimal]]


def past_invoices(session: Session, tenant_id: int, payments: Mapping[int, Dated],
                  credits: Mapping[int, Dated]) -> list[PastInvoice]:
    """Every paid, voided or deleted invoice of the tenant, with the dates of what closed it."""
    rows = session.scalars(select(Invoice).where(Invoice.tenant_id == tenant_id,
                                                 Invoice.status.in_(["paid", "voided", "deleted"]))).all()
    return [_past(inv, payments.get(inv.id, ()), credits.get(inv.id, ())) for inv in rows]


def _past(inv: Invoice, paid: Dated, credited: Dated) -> PastInvoice:
    pay_dates = [when for when, _ in paid]
    # Payment rows missing from the mirror (older than its first sync): the platform's fully-paid date
    # stands in for them, so a partial credit note is not mistaken for what closed the invoice.
    if inv.fully_paid_on is not None and (inv.amount_paid or 0) > sum((a for _, a in paid), Decimal("0")):
        pay_dates.append(inv.fully_paid_on)
    closed_on = inv.fully_paid_on
    if inv.status == "voided":
        closed_on = inv.remote_updated_at.date() if inv.remote_updated_at is not None else None
    elif inv.status == "deleted":
        closed_on = inv.updated_at.date() if inv.updated_at is not None else None
    return PastInvoice(str(inv.id), inv.due_date, inv.status, closed_on, tuple(pay_dates),
                       tuple(when for when, _ in credited))
