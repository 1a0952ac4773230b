"""Dashboard figures for one tenant: aging, DSO, CEI, cash-in forecast, allowance for doubtful accounts and
the collections worklist.

Reads the mirrored ledger and risk scores, converts them to the pure domain inputs, and lets
addon.domain compute. The dashboard reports every figure per currency (no total adds currencies up);
the worklist ranks in the tenant's home currency, converting each invoice with the rate the platform
recorded on it (never an invented one).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from redis import Redis
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from addon.domain.forecasting import OpenAmount, forecast_cash
from addon.domain.metrics import Receivable, aging, cei, dso
from addon.domain.worklist import Prioritised, WorkItem, prioritise
from addon.domain.write_offs import BucketRate, allowance, provision_matrix, rate_for
from addon.models import Customer, Invoice, RiskScore, Tenant
from addon.services import provision_cache
from addon.services.bad_debt import past_invoices
from addon.services.dashboard_reads import Dated, currencies_by_size, figured, settlements, settlements_of
from addon.services.dunning_holds import actor_names, hold_state, holds_for
from addon.services.list_snapshots import walk_snapshot

# Without a score, assume "pays around the due date, give or take a few weeks" for the forecast.
DEFAULT_QUANTILES = (-3, 5, 30)


def _receivable(inv: Any, paid: Dated, credited: Dated, today: date) -> Receivable:
    # The mirror may lack old payment rows; whatever is not explained by them was settled when paid.
    # Its balance today is known (amount_due), so that settlement happened by today at the latest: dating
    # it on a due date still ahead would age a partly (or fully) paid invoice by its total.
    # The platform's own amount_credited says how much of that gap was a credit note.
    when = min(inv.fully_paid_on or inv.due_date, today)
    missing = inv.total - inv.amount_due - _sum(paid) - _sum(credited)
    missing_credit = min(missing, (inv.amount_credited or Decimal("0")) - _sum(credited))
    if missing_credit > 0:
        credited, missing = [*credited, (when, missing_credit)], missing - missing_credit
    if missing > 0:
        paid = [*paid, (when, missing)]
    # Credit notes are kept apart: they reduce credit sales for DSO/CEI instead of counting as collected.
    return Receivable(str(inv.id), inv.issue_date, inv.due_date, inv.total, tuple(paid), tuple(credited))


def _sum(rows: Dated) -> Decimal:
    return sum((a for _, a in rows), Decimal("0"))


_DASHBOARD_COLUMNS = (Invoice.id, Invoice.currency, Invoice.status, Invoice.issue_date, Invoice.due_date,
                      Invoice.fully_paid_on, Invoice.total, Invoice.amount_due, Invoice.amount_credited,
                      Invoice.customer_id)


def tenant_dashboard(session: Session, tenant: Tenant, today: date, *, redis: Redis | None = None) -> dict[str, Any]:
    """Everything the dashboard page and its JSON API show, grouped by currency.

    With ``redis``, the write-off provision matrix is cached for the tenant's day (addon/services/
    provision_cache.py); without it, it is measured on every call."""
    # Before any history is read: a backfill committing meanwhile must make what is measured here stale.
    cached = provision_cache.lookup(redis, tenant, today)
    # Only the invoices that can move a figure today (``figured``: not those settled in full before the
    # days the figures read), only the columns the figures read, as plain rows: building ORM objects for a
    # 10,000-invoice ledger cost more than computing its figures.
    invoices = session.execute(select(*_DASHBOARD_COLUMNS).where(figured(tenant.id, today))).all()
    # Scores stay when an invoice is paid: only those of the open invoices with money due are used.
    scores = {s.invoice_id: s for s in session.execute(
        select(RiskScore.invoice_id, RiskScore.p10_days, RiskScore.p50_days, RiskScore.p90_days)
        .join(Invoice, Invoice.id == RiskScore.invoice_id)
        .where(RiskScore.tenant_id == tenant.id, *_money_due(tenant)))}
    # Bad debt is measured over the tenant's whole history (every currency: it is one credit control), and
    # booked per currency: nothing is converted.
    # Measuring it reads every closed invoice of the tenant and its settlements: once a day (per backfill),
    # not per request. Otherwise only the settlements of the invoices read above are.
    matrix = cached.matrix
    if matrix is None:
        paid, credited = settlements(session, tenant.id)
        matrix = provision_matrix(past_invoices(session, tenant.id, paid, credited), today)
        provision_cache.store(redis, tenant, today, cached, matrix)
    else:
        paid, credited = settlements_of(session, tenant.id, [inv.id for inv in invoices])
    by_currency: dict[str, list[Any]] = {currency: [] for currency in currencies_by_size(session, tenant.id)}
    for inv in invoices:
        by_currency.setdefault(inv.currency, []).append(inv)  # (committed between the two reads)
    currencies = {currency: currency_figures(group, paid, credited, scores, matrix, today)
                  for currency, group in by_currency.items()}
    return {"tenant": tenant.name, "as_of": today.isoformat(), "currencies": currencies,
            "write_off_rates": write_off_rates(matrix)}


def currency_figures(group: Sequence[Any], paid: dict[int, Dated], credited: dict[int, Dated],
                     scores: dict[int, Any], matrix: list[BucketRate], today: date) -> dict[str, Any]:
    """One currency's figures from its invoice rows, the settlements applied to them and their scores."""
    receivables = [_receivable(inv, paid.get(inv.id, []), credited.get(inv.id, []), today) for inv in group]
    open_items = [_open_amount(inv, scores.get(inv.id), rate_for(matrix, (today - inv.due_date).days))
                  for inv in group if inv.status == "open" and inv.amount_due > 0]
    return {
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


def write_off_rates(matrix: list[BucketRate]) -> list[dict[str, Any]]:
    return [{"bucket": r.bucket, "rate": str(r.rate), "past_invoices_unpaid": r.unpaid,
             "past_invoices_written_off": r.written_off} for r in matrix]


def _allowance(open_items: list[OpenAmount], matrix: list[BucketRate], today: date) -> dict[str, Any]:
    """The allowance for doubtful accounts of one currency: expected never to be collected, by bucket."""
    rows = allowance([(i.amount_due, i.due_date) for i in open_items], matrix, today)
    return {"total": str(sum((r.allowance for r in rows), Decimal("0"))),
            "buckets": [{"bucket": r.bucket, "rate": str(r.rate), "invoices": r.invoices, "balance": str(r.balance),
                         "allowance": str(r.allowance)} for r in rows]}


def _open_amount(inv: Any, score: Any, p_never: Decimal = Decimal("0")) -> OpenAmount:
    p10, p50, p90 = DEFAULT_QUANTILES
    if score is not None and score.p50_days is not None:
        # 0 days ("on the due date") is a prediction, not a missing one: only None falls back.
        p10 = score.p10_days if score.p10_days is not None else p10
        p90 = score.p90_days if score.p90_days is not None else p90
        p50 = score.p50_days
    # The customer ties its invoices together in the running-total band (see docs/forecasting.md).
    return OpenAmount(str(inv.id), inv.amount_due, inv.due_date, p10, p50, p90,
                      customer_id=str(inv.customer_id) if inv.customer_id is not None else "", p_never=float(p_never))


def _money_due(tenant: Tenant) -> tuple[ColumnElement[bool], ...]:
    """The tenant's open invoices with money still due: what the worklist, the risk list and the forecast
    read."""
    return Invoice.tenant_id == tenant.id, Invoice.status == "open", Invoice.amount_due > 0


def _open_with_scores(tenant: Tenant) -> Any:
    """(invoice, customer name, risk score or None) for the tenant's open invoices with money due."""
    return (select(Invoice, Customer.name, RiskScore)
            .outerjoin(Customer, Customer.id == Invoice.customer_id)
            .outerjoin(RiskScore, RiskScore.invoice_id == Invoice.id)
            .where(*_money_due(tenant)))


def open_invoice_count(session: Session, tenant: Tenant) -> int:
    """How many open invoices with money due the worklist and the risk page rank (for their paging)."""
    return session.scalar(select(func.count()).select_from(_open_with_scores(tenant).subquery())) or 0


def worklist(session: Session, tenant: Tenant, today: date, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """Open invoices ranked by money at risk in the tenant's home currency, with the reason for each.

    Each row keeps the invoice's own currency and amount; ``home_amount_due`` is the same amount in
    ``home_currency`` at the invoice's rate (None when the platform recorded no rate for a foreign
    invoice: ``rate_missing``, ranked after the invoices that can be valued)."""
    ranked, by_id = _ranking(session, tenant, today, offset + limit)
    return _worklist_rows(session, tenant, today, ranked[offset:], by_id)


def worklist_walk(session: Session, redis: Redis, tenant: Tenant, today: date, limit: int,
                  state: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of a cursor walk over the worklist, and the state of the next (None: the walk is over).

    The priority is computed in Python and moves with every payment, promise or re-scoring, so the walk
    keeps the ranking it began with (a snapshot: addon/services/list_snapshots.py); each row shows its
    current values."""
    ranked, by_id = _ranking(session, tenant, today, None)
    by_invoice = {int(r.item.invoice_id): r for r in ranked}
    page = walk_snapshot(redis, state, limit, lambda: list(by_invoice),
                         lambda ids: {i for i in ids if i in by_invoice})
    return _worklist_rows(session, tenant, today, [by_invoice[i] for i in page.ids], by_id), page.state


def _ranking(session: Session, tenant: Tenant, today: date,
             limit: int | None) -> tuple[list[Prioritised], dict[str, Any]]:
    """The first ``limit`` (None: all) open invoices by priority, and their rows by invoice id."""
    # Ranking reads every open invoice: a few columns as plain rows, not ORM objects (a 10,000-invoice
    # ledger spent most of its time building those); band and reasons are read for the page's rows only.
    rows = session.execute(select(Invoice.id, Invoice.number, Invoice.amount_due, Invoice.due_date,
                                  Invoice.promised_on, Invoice.disputed, Invoice.currency, Invoice.home_rate,
                                  Invoice.customer_id, Customer.name, RiskScore.p_late)
                           .outerjoin(Customer, Customer.id == Invoice.customer_id)
                           .outerjoin(RiskScore, RiskScore.invoice_id == Invoice.id)
                           .where(*_money_due(tenant))
                           ).all()
    items = [WorkItem(str(r.id), r.name or "?", r.number, r.amount_due, r.due_date,
                      p_late=float(r.p_late) if r.p_late is not None else None, promised_on=r.promised_on,
                      disputed=r.disputed, currency=r.currency, home_rate=r.home_rate)
             for r in rows]
    ranked = prioritise(items, today, len(items) if limit is None else limit, home_currency=tenant.base_currency)
    return ranked, {str(r.id): r for r in rows}


def _worklist_rows(session: Session, tenant: Tenant, today: date, page: list[Prioritised],
                   by_id: dict[str, Any]) -> list[dict[str, Any]]:
    scores = {s.invoice_id: s for s in session.execute(
        select(RiskScore.invoice_id, RiskScore.band, RiskScore.reasons)
        .where(RiskScore.tenant_id == tenant.id, RiskScore.invoice_id.in_([int(r.item.invoice_id) for r in page])))}
    holds = holds_for(session, tenant, {by_id[r.item.invoice_id].customer_id for r in page} - {None})
    people = actor_names(session, [h.set_by for h in holds.values()])
    out = []
    for ranked in page:
        inv = by_id[ranked.item.invoice_id]
        score = scores.get(inv.id)
        out.append({"invoice_id": inv.id, "number": inv.number, "customer": ranked.item.customer,
                    "currency": inv.currency, "amount_due": str(inv.amount_due), "due_date": inv.due_date.isoformat(),
                    "home_currency": tenant.base_currency,
                    "home_amount_due": None if ranked.home_amount is None else str(ranked.home_amount),
                    "rate_missing": ranked.home_amount is None,
                    "days_overdue": (today - inv.due_date).days, "band": score.band if score else None,
                    "priority": None if ranked.priority is None else round(ranked.priority, 2), "why": ranked.why,
                    "reasons": list(score.reasons) if score else [],
                    "promised_on": inv.promised_on.isoformat() if inv.promised_on else None,
                    "disputed": bool(inv.disputed), "customer_id": inv.customer_id,
                    # the customer's chase hold in force today (no automatic reminders), else null
                    "hold": hold_state(holds.get(inv.customer_id), today, people) if inv.customer_id else None})
    return out


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def scored_invoices(session: Session, tenant: Tenant, limit: int = 500, offset: int = 0) -> list[dict[str, Any]]:
    """Open invoices with their risk score, interval and reasons (riskiest first; ``Invoice.id`` breaks ties
    so that consecutive pages neither repeat nor skip a row)."""
    rows = session.execute(_open_with_scores(tenant).order_by(*_RISK_ORDER).offset(offset).limit(limit)).all()
    return [_scored_row(inv, name, score) for inv, name, score in rows]


def scored_invoices_walk(session: Session, redis: Redis, tenant: Tenant, limit: int,
                         state: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of a cursor walk over the risk list, and the state of the next (None: the walk is over).

    ``p_late`` is stored, but re-scoring rewrites it at any time, so a keyset on it would skip or repeat
    the invoices it moves: the walk keeps the ranking it began with (addon/services/list_snapshots.py)."""
    open_now = _money_due(tenant)
    page = walk_snapshot(
        redis, state, limit,
        lambda: session.scalars(select(Invoice.id).outerjoin(RiskScore, RiskScore.invoice_id == Invoice.id)
                                .where(*open_now).order_by(*_RISK_ORDER)).all(),
        lambda ids: set(session.scalars(select(Invoice.id).where(*open_now, Invoice.id.in_(ids)))))
    rows = {inv.id: (inv, name, score) for inv, name, score in
            session.execute(_open_with_scores(tenant).where(Invoice.id.in_(page.ids)))} if page.ids else {}
    # A row can leave the list between the walk's check and this read: it is left out, not shown stale.
    return [_scored_row(*rows[i]) for i in page.ids if i in rows], page.state


_RISK_ORDER = (RiskScore.p_late.desc().nulls_last(), Invoice.due_date, Invoice.id)


def _scored_row(inv: Invoice, name: str | None, score: RiskScore | None) -> dict[str, Any]:
    return {"invoice_id": inv.id, "number": inv.number, "customer": name, "currency": inv.currency,
            "amount_due": str(inv.amount_due), "due_date": inv.due_date.isoformat(),
            "p_late": float(score.p_late) if score else None, "band": score.band if score else None,
            "interval_days": [score.p10_days, score.p50_days, score.p90_days] if score else None,
            "expected_pay_date": score.expected_pay_date.isoformat() if score and score.expected_pay_date else None,
            "reasons": list(score.reasons) if score else [], "model_version": score.model_version if score else None}
