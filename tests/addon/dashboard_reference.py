"""The dashboard as it was computed before it read only the invoices its figures depend on: every open and
paid invoice of the tenant and every payment and credit allocation, its figures computed from them as the
dashboard computes them (kept to check the new reads against the old ones,
in tests/addon/test_dashboard_reads.py and bench/dashboard_provision.py)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addon.domain.write_offs import BucketRate
from addon.models import CreditAllocation, CreditNote, Invoice, Payment, PaymentAllocation, RiskScore, Tenant
from addon.services.dashboard import _DASHBOARD_COLUMNS, currency_figures, write_off_rates

Dated = list[tuple[date, Decimal]]


def full_settlements(session: Session, tenant_id: int) -> tuple[dict[int, Dated], dict[int, Dated]]:
    """Every payment and credit allocation of the tenant per invoice, as the dashboard read them."""
    payments: dict[int, Dated] = defaultdict(list)
    credits: dict[int, Dated] = defaultdict(list)
    pay = session.execute(select(PaymentAllocation.invoice_id, Payment.date, PaymentAllocation.amount)
                          .join(Payment, Payment.id == PaymentAllocation.payment_id)
                          .where(PaymentAllocation.tenant_id == tenant_id, Payment.deleted.is_(False)))
    applied_on = func.coalesce(CreditAllocation.applied_on, CreditNote.date)
    credit = session.execute(select(CreditAllocation.invoice_id, applied_on, CreditAllocation.amount)
                             .select_from(CreditAllocation)
                             .join(CreditNote, CreditNote.id == CreditAllocation.credit_note_id)
                             .where(CreditAllocation.tenant_id == tenant_id, CreditNote.voided.is_(False)))
    for rows, out in ((pay, payments), (credit, credits)):
        for invoice_id, when, amount in rows:
            if invoice_id is not None:
                out[invoice_id].append((when, amount))
    return payments, credits


def full_read_dashboard(session: Session, tenant: Tenant, today: date, matrix: list[BucketRate]) -> dict[str, Any]:
    """``tenant_dashboard`` as it was, given the provision matrix (measured the same way before and after)."""
    invoices = session.execute(select(*_DASHBOARD_COLUMNS).where(Invoice.tenant_id == tenant.id,
                                                                 Invoice.status.in_(["open", "paid"]))).all()
    paid, credited = full_settlements(session, tenant.id)
    scores = {s.invoice_id: s for s in session.execute(
        select(RiskScore.invoice_id, RiskScore.p10_days, RiskScore.p50_days, RiskScore.p90_days)
        .where(RiskScore.tenant_id == tenant.id))}
    by_currency: dict[str, list[Any]] = defaultdict(list)
    for inv in invoices:
        by_currency[inv.currency].append(inv)
    currencies = {currency: currency_figures(group, paid, credited, scores, matrix, today)
                  for currency, group in sorted(by_currency.items(), key=lambda kv: -len(kv[1]))}
    return {"tenant": tenant.name, "as_of": today.isoformat(), "currencies": currencies,
            "write_off_rates": write_off_rates(matrix)}
