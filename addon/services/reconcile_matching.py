"""Run the matching engine over a statement's new lines and store its verdicts as ``Match`` rows.

The engine sees the mirrored open ledger (invoices + their customers' names and bank accounts) and the
payer aliases admins confirmed. Ids handed to the engine are the platform's own (``remote_id``), so a
verdict can be posted through the connector as it is.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import fields
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.domain.matching import (
    DEFAULT_CONFIG,
    AliasBook,
    Candidate,
    MatchingConfig,
    MatchingIndex,
    MatchResult,
    OpenInvoice,
    match_lines,
)
from addon.models import BankLine, Customer, Invoice, Match, PayerAlias, Tenant
from addon.services.reconcile_import import to_domain_line

logger = logging.getLogger(__name__)

# tenant.settings["matching"] keys that may override MatchingConfig, and how to read them.
_SETTING_TYPES = {f.name: type(getattr(DEFAULT_CONFIG, f.name)) for f in fields(MatchingConfig)}
NAME_ALIAS, ACCOUNT_ALIAS = "name:", "account:"


def matching_config(tenant: Tenant) -> MatchingConfig:
    """Thresholds from ``tenant.settings["matching"]`` (e.g. auto_threshold, min_lead), else defaults."""
    overrides = (tenant.settings or {}).get("matching", {})
    values: dict[str, Any] = {}
    for name, kind in _SETTING_TYPES.items():
        if name in overrides and overrides[name] is not None:
            values[name] = kind(str(overrides[name])) if kind is Decimal else kind(overrides[name])
    return MatchingConfig(**values)


def open_invoices(session: Session, tenant: Tenant) -> list[OpenInvoice]:
    """The mirrored open receivables in the engine's shape (platform ids)."""
    rows = session.execute(
        select(Invoice, Customer).join(Customer, Invoice.customer_id == Customer.id)
        .where(Invoice.tenant_id == tenant.id, Invoice.status == "open", Invoice.amount_due > 0)
        .order_by(Invoice.due_date, Invoice.id)).all()
    return [OpenInvoice(invoice_id=inv.remote_id, number=inv.number, customer_id=cust.remote_id,
                        customer_name=cust.name, currency=inv.currency, amount_due=inv.amount_due,
                        issue_date=inv.issue_date, due_date=inv.due_date,
                        customer_accounts=tuple(str(a) for a in cust.bank_accounts or ()))
            for inv, cust in rows]


def alias_book(session: Session, tenant: Tenant) -> AliasBook:
    """Payer names/accounts that admins confirmed, keyed to the customer's platform id."""
    book = AliasBook()
    rows = session.execute(select(PayerAlias.alias, Customer.remote_id)
                           .join(Customer, PayerAlias.customer_id == Customer.id)
                           .where(PayerAlias.tenant_id == tenant.id, PayerAlias.confirmed.is_(True))).all()
    for alias, customer_id in rows:
        if alias.startswith(NAME_ALIAS):
            book = book.learned(customer_id, payer_name=alias.removeprefix(NAME_ALIAS))
        elif alias.startswith(ACCOUNT_ALIAS):
            book = book.learned(customer_id, payer_account=alias.removeprefix(ACCOUNT_ALIAS))
    return book


def match_statement(session: Session, tenant: Tenant, statement_id: int) -> Counter[str]:
    """Match the statement's new lines once; returns counts per decision (auto/suggest/none)."""
    lines = session.scalars(select(BankLine).where(
        BankLine.tenant_id == tenant.id, BankLine.statement_id == statement_id, BankLine.status == "new")
        .order_by(BankLine.id)).all()
    counts: Counter[str] = Counter()
    if not lines:
        return counts
    ledger = open_invoices(session, tenant)
    index = MatchingIndex.build(ledger, alias_book(session, tenant))
    by_id = {inv.invoice_id: inv for inv in ledger}
    results = match_lines([to_domain_line(row) for row in lines], index, matching_config(tenant))
    for row, result in zip(lines, results, strict=True):
        session.add(_match_row(tenant, row, result, by_id))
        row.status = "matched" if result.decision == "auto" else "exception"
        counts[result.decision.value] += 1
    session.flush()
    logger.info("tenant %s statement %s matched: %s", tenant.id, statement_id, dict(counts))
    return counts


def _match_row(tenant: Tenant, line: BankLine, result: MatchResult, by_id: dict[str, OpenInvoice]) -> Match:
    suggestions = [suggestion_dict(c, by_id) for c in result.suggestions]
    chosen = [{"invoice_id": a.invoice_id, "amount": str(a.amount), **_facts(a.invoice_id, by_id)}
              for a in result.allocations] if result.decision == "auto" else []
    return Match(tenant_id=tenant.id, bank_line_id=line.id, decision=result.decision.value,
                 confidence=Decimal(str(round(result.confidence, 4))), allocations=chosen,
                 suggestions=suggestions, explanation=result.explanation,
                 residual=result.residual.value if result.residual else None, status="proposed",
                 posted_payment_ids=[])


def suggestion_dict(candidate: Candidate, by_id: dict[str, OpenInvoice]) -> dict[str, Any]:
    """A candidate as stored JSON, with each invoice's amount due at matching time (the snapshot
    that posting compares against the platform before it writes anything)."""
    return {
        "allocations": [{"invoice_id": a.invoice_id, "amount": str(a.amount), **_facts(a.invoice_id, by_id)}
                        for a in candidate.allocations],
        "invoices": {i: _facts(i, by_id) for i in (candidate.invoices or
                                                   tuple(a.invoice_id for a in candidate.allocations))},
        "confidence": round(candidate.confidence, 4),
        "explanation": candidate.explanation,
        "residual": candidate.residual.value if candidate.residual else None,
        "residual_amount": str(candidate.residual_amount),
        "deduction_reason": candidate.deduction_reason,
        "customer_id": candidate.customer_id,
        "customer_name": next((by_id[i].customer_name for i in candidate.invoice_ids if i in by_id), None),
    }


def _facts(invoice_id: str, by_id: dict[str, OpenInvoice]) -> dict[str, str]:
    inv = by_id.get(invoice_id)
    return {"number": inv.number if inv else invoice_id, "amount_due": str(inv.amount_due) if inv else "0"}
