"""The dashboard as it was computed before it read only the invoices its figures depend on: every open and
paid invoice of the tenant and every payment and credit allocation (kept to check the new one against it,
in tests/addon/test_dashboard_reads.py and bench/dashboard_provision.py)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addon.domain.forecasting import forecast_cash
from addon.domain.metrics import aging, cei, dso
from addon.domain.write_offs import BucketRate, rate_for
from addon.models import CreditAllocation, CreditNote, Invoice, Payment, PaymentAllocation, RiskScore, Tenant
from addon.services.dashboard import _DASHBOARD_COLUMNS, _allowance, _open_amount, _receivable, _str

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
    currencies = {}
    for currency, group in sorted(by_currency.items(), key=lambda kv: -len(kv[1])):
        receivables = [_receivable(inv, paid.get(inv.id, []), credited.get(inv.id, []), today) for inv in group]
        open_items = [_open_amount(inv, scores.get(inv.id), rate_for(matrix, (today - inv.due_date).days))
                      for inv in group if inv.status == "open" and inv.amount_due > 0]
        currencies[currency] = {
            "open_invoices": len(open_items),
            "outstanding": str(sum((i.amount_due for i in open_items), Decimal("0"))),
            "aging": {k: str(v) for k, v in aging(receivables, today).items()},
            "dso_days": _str(dso(receivables, today)),
            "cei_percent": _str(cei(receivables, today)),
            "forecast": [{"week_start": w.week_start.isoformat(), "expected": str(w.expected), "low": str(w.low),
                          "high": str(w.high), "cumulative_expected": str(w.cumulative_expected),
                          "cumulative_low": str(w.cumulative_low), "cumulative_high": str(w.cumulative_high)}
                         for w in forecast_cash(open_items, today, weeks=13)],
            "allowance": _allowance(open_items, matrix, today),
        }
    return {"tenant": tenant.name, "as_of": today.isoformat(), "currencies": currencies,
            "write_off_rates": [{"bucket": r.bucket, "rate": str(r.rate), "past_invoices_unpaid": r.unpaid,
                                 "past_invoices_written_off": r.written_off} for r in matrix]}
