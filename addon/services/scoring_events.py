"""The dated events of a tenant's invoices as the risk model reads them: payments applied, reminders sent,
promises to pay recorded. Both ways of loading the history (``scoring_history``, ``scoring_history_copy``)
use them."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.models import DunningAction, Invoice, Payment, PaymentAllocation, Tenant


def dated_events(session: Session, tenant: Tenant) -> tuple[
        dict[int, list[tuple[date, Decimal]]], dict[int, list[date]], dict[int, list[tuple[date, date]]]]:
    """Per invoice key, in date order: the payments applied to it (payment date, amount allocated), the
    days reminders were sent, and the promise to pay (day recorded, day promised) a collector recorded."""
    payments: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    reminders: dict[int, list[date]] = defaultdict(list)
    promises: dict[int, list[tuple[date, date]]] = defaultdict(list)
    pay = (select(PaymentAllocation.invoice_id, Payment.date, PaymentAllocation.amount)
           .join(Payment, Payment.id == PaymentAllocation.payment_id)
           .where(PaymentAllocation.tenant_id == tenant.id, PaymentAllocation.invoice_id.is_not(None),
                  Payment.deleted.is_(False)).order_by(PaymentAllocation.invoice_id, Payment.date))
    sent = (select(DunningAction.invoice_id, DunningAction.sent_at)
            .where(DunningAction.tenant_id == tenant.id, DunningAction.status == "sent",
                   DunningAction.invoice_id.is_not(None), DunningAction.sent_at.is_not(None))
            .order_by(DunningAction.invoice_id, DunningAction.sent_at))
    for invoice_id, day, amount in session.execute(pay):
        payments[cast(int, invoice_id)].append((day, amount))
    for invoice_id, sent_at in session.execute(sent):
        reminders[cast(int, invoice_id)].append(cast(datetime, sent_at).date())
    for invoice_id, made, promised in session.execute(
            select(Invoice.id, Invoice.promise_recorded_on, Invoice.promised_on)
            .where(Invoice.tenant_id == tenant.id, Invoice.promise_recorded_on.is_not(None),
                   Invoice.promised_on.is_not(None))):
        promises[invoice_id].append((cast(date, made), cast(date, promised)))
    return payments, reminders, promises
