"""What the dashboard reads of the mirrored ledger: the invoices that can move a figure today, and the
payments and credit notes applied to them (addon/services/dashboard.py computes the figures).

A big tenant's history is mostly invoices settled long ago, which no figure reads any more: ``figured``
leaves them out in SQL (the proof is in ``addon.domain.metrics.moves_no_figure``), and ``settlements_of``
reads the allocations of the invoices kept. ``settlements`` reads a whole tenant's, for the write-off
provision matrix, which is measured over all of its history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import ColumnElement, Integer, Select, and_, any_, bindparam, func, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from addon.domain.metrics import earliest_balance_read, earliest_day_read
from addon.models import CreditAllocation, CreditNote, Invoice, Payment, PaymentAllocation

Dated = list[tuple[date, Decimal]]


def settlements(session: Session, tenant_id: int) -> tuple[dict[int, Dated], dict[int, Dated]]:
    """Per invoice: (payments received, credit notes applied), each as (date, amount) rows."""
    payments: dict[int, Dated] = defaultdict(list)
    credits: dict[int, Dated] = defaultdict(list)
    pay = session.execute(_payment_rows().where(PaymentAllocation.tenant_id == tenant_id))
    credit = session.execute(_credit_rows().where(CreditAllocation.tenant_id == tenant_id))
    for rows, out in ((pay, payments), (credit, credits)):
        for _, invoice_id, when, amount in rows:
            if invoice_id is not None:
                out[invoice_id].append((when, amount))
    return payments, credits


_ID_CHUNK = 500  # stay well below every backend's bound-parameter limit (SQLite's was 999)


def settlements_of(session: Session, tenant_id: int,
                    invoice_ids: Sequence[int]) -> tuple[dict[int, Dated], dict[int, Dated]]:
    """``settlements`` of these invoices only (the same rows; their order is immaterial: they are summed,
    exactly, and compared by date).

    Read by invoice id, through the invoice_id indexes: on PostgreSQL in one query per table, the ids in
    one array parameter; elsewhere in batches of ``_ID_CHUNK``. (Measured on 24,000 invoices: 98 batches
    of 500 cost PostgreSQL three times one array.) The tenant is checked here rather than in SQL, where
    SQLite (no statistics) would rather scan every allocation of the tenant by tenant_id."""
    payments: dict[int, Dated] = defaultdict(list)
    credits: dict[int, Dated] = defaultdict(list)
    if session.get_bind().dialect.name == "postgresql":
        ids = bindparam("invoice_ids", list(invoice_ids), type_=postgresql.ARRAY(Integer))
        batches = [(PaymentAllocation.invoice_id == any_(ids), CreditAllocation.invoice_id == any_(ids))]
    else:
        batches = [(PaymentAllocation.invoice_id.in_(chunk), CreditAllocation.invoice_id.in_(chunk))
                   for chunk in (invoice_ids[n:n + _ID_CHUNK] for n in range(0, len(invoice_ids), _ID_CHUNK))]
    for paid_in, credited_in in batches:
        for rows, out in ((session.execute(_payment_rows().where(paid_in)), payments),
                          (session.execute(_credit_rows().where(credited_in)), credits)):
            for row_tenant, invoice_id, when, amount in rows:
                if row_tenant == tenant_id and invoice_id is not None:
                    out[invoice_id].append((when, amount))
    return payments, credits


def _payment_rows() -> Select[int, int | None, date, Decimal]:
    return (select(PaymentAllocation.tenant_id, PaymentAllocation.invoice_id, Payment.date, PaymentAllocation.amount)
            .join(Payment, Payment.id == PaymentAllocation.payment_id).where(Payment.deleted.is_(False)))


def _credit_rows() -> Select[int, int | None, date, Decimal]:
    return (select(CreditAllocation.tenant_id, CreditAllocation.invoice_id, _applied_on(), CreditAllocation.amount)
            .select_from(CreditAllocation).join(CreditNote, CreditNote.id == CreditAllocation.credit_note_id)
            .where(CreditNote.voided.is_(False)))


def _applied_on() -> ColumnElement[date]:
    return func.coalesce(CreditAllocation.applied_on, CreditNote.date)  # QBO: the applying payment's date


def figured(tenant_id: int, today: date) -> ColumnElement[bool]:
    """The tenant's open and paid invoices that can move a figure of the dashboard on ``today``.

    An invoice left out is one ``metrics.moves_no_figure(receivable, today)`` holds for, as ``_receivable``
    builds it from the mirror (the proof is there), and with nothing due it is in no open amount (forecast,
    allowance, outstanding). With ``sales_from`` = today - 90 and ``balances_from`` = today - 30, it is:

    - nothing due (amount_due <= 0): then ``_receivable``'s rows cover the total (what the mirror lacks is
      filled in up to total - amount_due, and more rows only add to it);
    - issued on or before ``sales_from``;
    - no allocation of a credit note (not voided) dated after ``sales_from``, and none of a payment (not
      deleted) dated after ``balances_from``: the rows ``settlements`` reads. (Payments are found by their
      own tenant, for the (tenant_id, date) index: the sync writes a payment's allocations with it, under
      the same tenant, sync.Mirror._allocations.)
    - the settlement ``_receivable`` fills in, dated min(fully_paid_on or due_date, today), on or before
      ``balances_from`` (both cutoffs are before today, so fully_paid_on, else due_date, is), and on or
      before ``sales_from`` unless it cannot be a credit: it is one only for the part of amount_credited
      the credit rows do not explain, none when amount_credited <= 0 and no credit row of the invoice is
      negative.

    Allocations are matched as "id in (those dated after the cutoff)": few rows (the last 30 days' payments,
    the last 90 days' credits) where a correlated check would probe every old invoice.
    """
    sales_from, balances_from = earliest_day_read(today), earliest_balance_read(today)
    late_payments = (select(PaymentAllocation.invoice_id).join(Payment, Payment.id == PaymentAllocation.payment_id)
                     .where(Payment.tenant_id == tenant_id, PaymentAllocation.invoice_id.is_not(None),
                            Payment.deleted.is_(False), Payment.date > balances_from))
    live_credits = (select(CreditAllocation.invoice_id)
                    .join(CreditNote, CreditNote.id == CreditAllocation.credit_note_id)
                    .where(CreditAllocation.tenant_id == tenant_id, CreditAllocation.invoice_id.is_not(None),
                           CreditNote.voided.is_(False)))
    filled_in_on = func.coalesce(Invoice.fully_paid_on, Invoice.due_date)
    return and_(Invoice.tenant_id == tenant_id, Invoice.status.in_(["open", "paid"]),
                or_(Invoice.amount_due > 0, Invoice.issue_date > sales_from, filled_in_on > balances_from,
                    Invoice.id.in_(late_payments), Invoice.id.in_(live_credits.where(_applied_on() > sales_from)),
                    and_(filled_in_on > sales_from,
                         or_(func.coalesce(Invoice.amount_credited, 0) > 0,
                             Invoice.id.in_(live_credits.where(CreditAllocation.amount < 0))))))


def currencies_by_size(session: Session, tenant_id: int) -> list[str]:
    """The currencies of the tenant's open and paid invoices, those with most invoices first (ties: by code).

    Every one of them is shown, and in that order, including one whose invoices were all settled long ago
    (its figures are zero or none): counted in SQL, since those invoices are not read."""
    rows = session.execute(select(Invoice.currency, func.count())
                           .where(Invoice.tenant_id == tenant_id, Invoice.status.in_(["open", "paid"]))
                           .group_by(Invoice.currency)).all()
    return [currency for currency, _ in sorted(rows, key=lambda row: (-row[1], row[0]))]
