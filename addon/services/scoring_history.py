"""A tenant's invoice history as the risk model sees it, from the mirror: as records (``tenant_history``)
or as columns (``history_frame``, which takes the PostgreSQL COPY path of ``scoring_history_copy`` when it
can)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.domain.scoring.history import HistoryFrame, HistoryInvoice, IntArray
from addon.models import Customer, Invoice, Tenant
from addon.services.scoring_events import dated_events
from addon.services.scoring_history_copy import pg_history_frame

_HISTORY_COLUMNS = (Invoice.id, Invoice.remote_id, Invoice.customer_id, Customer.remote_id.label("customer_remote"),
                    Invoice.issue_date, Invoice.due_date, Invoice.total, Invoice.currency, Invoice.status,
                    Invoice.fully_paid_on, Invoice.disputed, Invoice.amount_credited, Invoice.sent,
                    Invoice.promised_on, Invoice.amount_due, Invoice.disputed_on, Invoice.dispute_resolved_on)


TenantHistory = tuple[list[HistoryInvoice], dict[str, Any]]


def tenant_history(session: Session, tenant: Tenant) -> TenantHistory:
    """Every issued invoice of the tenant as the model sees it, plus invoice id -> row for open ones.

    Open rows are plain column rows carrying ``id`` and ``remote_id``, not ORM entities: loading a
    million Invoice objects costs several times more and scoring needs none of their behaviour.
    """
    rows = session.execute(select(*_HISTORY_COLUMNS).outerjoin(Customer, Customer.id == Invoice.customer_id)
                           .where(Invoice.tenant_id == tenant.id, Invoice.status.in_(["open", "paid"]))).all()
    payments, reminders, promises = dated_events(session, tenant)
    history: list[HistoryInvoice] = []
    open_rows: dict[str, Any] = {}
    zero = Decimal("0")
    # Unpacking each row once is several times cheaper than repeated Row attribute lookups at 1M rows.
    for row in rows:
        (pk, _remote, customer_pk, customer_remote, issue, due, total, currency, status, fully_paid_on, disputed,
         credited, sent, promised_on, amount_due, disputed_on, dispute_resolved_on) = row
        paid = fully_paid_on if status == "paid" else None
        if status == "paid" and paid is None:
            paid = due  # paid, date unknown to the mirror: count it as on time rather than invent
        paid_in, reminded = payments.get(pk, ()), reminders.get(pk, ())
        history.append(HistoryInvoice(
            invoice_id=str(pk), customer_id=customer_remote or f"unknown-{customer_pk}",
            issue_date=issue, due_date=due, amount=total, currency=currency,
            paid_date=paid, disputed=bool(disputed) or disputed_on is not None, dispute_date=disputed_on,
            dispute_resolved_date=dispute_resolved_on,
            credited=credited or zero, partial_payments=max(0, len(paid_in) - (1 if paid else 0)), sent=sent,
            reminders_sent=len(reminded), promised=promised_on is not None,
            payments=tuple(paid_in), reminder_dates=tuple(reminded), promises=tuple(promises.get(pk, ()))))
        if status == "open" and amount_due > 0:
            open_rows[str(pk)] = row
    return history, open_rows


def history_frame(session: Session, tenant: Tenant, records: Callable[[], TenantHistory] | None = None
                  ) -> tuple[HistoryFrame, IntArray]:
    """``tenant_history`` as columns: every issued invoice of the tenant, plus the rows of the open ones.

    On PostgreSQL the columns arrive in one binary COPY of fixed-width fields that numpy reads in
    place (no row objects at all); elsewhere the rows come from ``records`` (default:
    ``tenant_history``). Either way the frame's invoice ids are the invoices' primary keys as text.
    """
    if session.get_bind().dialect.name == "postgresql":
        loaded = pg_history_frame(session, tenant)
        if loaded is not None:
            return loaded
    history, open_rows = records() if records is not None else tenant_history(session, tenant)
    return HistoryFrame.from_records(history), np.array(
        [n for n, inv in enumerate(history) if inv.invoice_id in open_rows], dtype=np.int64)


def frame_pks(frame: HistoryFrame, rows: IntArray) -> IntArray:
    """Invoice primary keys of ``rows`` (the frame's invoice ids are the keys as text)."""
    if frame.pks is not None:
        return frame.pks[rows]
    return np.array([int(frame.invoice_id(r)) for r in rows.tolist()], dtype=np.int64)
