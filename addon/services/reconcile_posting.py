"""Post a match to the platform: re-read, check it still fits, write idempotently, record.

The ERP is the system of record, so every invoice is re-read right before posting and compared with
the amount due the match was made against (the snapshot stored in the match). If it changed so the
allocation no longer fits (someone else paid, the invoice was voided or edited), the line goes back
to the exception queue with the reason instead of being posted.

Retries never post twice: the payment carries ``match-<id>`` and the credit note ``match-<id>-credit``
as idempotency keys, and a posted match is skipped. A retry after a crash between the platform call
and our commit sees the invoice already reduced by exactly this match's effect; that is recognised
as our own earlier attempt and the same key is sent again, so the platform replays the first result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.domain.matching import Candidate, Residual, proposed_credit_note, proposed_payment
from addon.domain.types import Allocation, InvoiceStatus, NewCreditNote
from addon.domain.types import Invoice as PlatformInvoice
from addon.extensions import get_for_tenant
from addon.models import AuditLog, BankLine, Invoice, Match, Tenant
from addon.services.reconcile_import import to_domain_line
from connectors.base import AccountingConnector
from connectors.errors import NotFoundError, ValidationError

logger = logging.getLogger(__name__)

ZERO = Decimal("0")


class PostingRefusedError(Exception):
    """The match no longer fits the platform's ledger; it goes back to the exception queue."""


@dataclass(frozen=True)
class Plan:
    """What posting a match means: the candidate, and each invoice's amount due when it was matched."""

    candidate: Candidate
    dues: dict[str, Decimal]
    numbers: dict[str, str]


def payment_key(match: Match) -> str:
    """Idempotency key of the payment posted for ``match``."""
    return f"match-{match.id}"


def credit_key(match: Match) -> str:
    """Idempotency key of the deduction credit note posted for ``match``."""
    return f"match-{match.id}-credit"


def pending_matches(session: Session, tenant: Tenant, statement_id: int | None = None) -> list[Match]:
    """Auto decisions not yet posted, and admin-confirmed matches (oldest first)."""
    query = (select(Match).join(BankLine, Match.bank_line_id == BankLine.id)
             .where(Match.tenant_id == tenant.id,
                    ((Match.decision == "auto") & (Match.status == "proposed")) | (Match.status == "confirmed"))
             .order_by(Match.id))
    if statement_id is not None:
        query = query.where(BankLine.statement_id == statement_id)
    return list(session.scalars(query))


def plan_of(match: Match) -> Plan:
    """Rebuild the engine candidate behind the match's chosen allocations (for the posting helpers)."""
    allocations = tuple(Allocation(a["invoice_id"], Decimal(a["amount"])) for a in match.allocations)
    if not allocations:
        raise PostingRefusedError("the match has no allocation to post")
    dues = {a["invoice_id"]: Decimal(a["amount_due"]) for a in match.allocations}
    numbers = {a["invoice_id"]: a.get("number", a["invoice_id"]) for a in match.allocations}
    chosen = next((s for s in match.suggestions if _key(s["allocations"]) == _key(match.allocations)), None)
    if chosen is None:  # an admin picked the invoice and amount by hand
        customer = match.allocations[0].get("customer_id")
        return Plan(Candidate(allocations, 1.0, ("allocation chosen by an admin",), customer_id=customer),
                    dues, numbers)
    for invoice_id, facts in chosen["invoices"].items():
        dues.setdefault(invoice_id, Decimal(facts["amount_due"]))
        numbers.setdefault(invoice_id, facts["number"])
    residual = Residual(chosen["residual"]) if chosen["residual"] else None
    candidate = Candidate(allocations, float(chosen["confidence"]), (chosen["explanation"],), residual=residual,
                          residual_amount=Decimal(chosen["residual_amount"]),
                          deduction_reason=chosen["deduction_reason"], customer_id=chosen["customer_id"],
                          invoices=tuple(chosen["invoices"]))
    return Plan(candidate, dues, numbers)


def _key(allocations: list[dict[str, Any]]) -> list[tuple[str, Decimal]]:
    return sorted((a["invoice_id"], Decimal(a["amount"])) for a in allocations)


def post_match(session: Session, tenant: Tenant, connector: AccountingConnector, match: Match, *,
               actor: str, now: datetime) -> str:
    """Post one match; returns 'posted', 'already' (posted before) or 'refused' (back in the queue).

    Connector errors other than a validation refusal propagate: the caller (a job) retries, and the
    idempotency keys make the retry safe.
    """
    if match.status == "posted":
        return "already"
    line = get_for_tenant(session, BankLine, match.bank_line_id, tenant.id)
    if line is None:
        raise LookupError(f"bank line {match.bank_line_id} not found for tenant {tenant.id}")
    try:
        plan = plan_of(match)
        dline = to_domain_line(line)
        credit = proposed_credit_note(plan.candidate, dline, plan.dues)
        fresh = _reread(connector, plan)
        _check_fits(plan, credit, fresh)
        payment = connector.create_payment(
            proposed_payment(plan.candidate, dline, account_code=_account_code(tenant)),
            idempotency_key=payment_key(match))
        note = connector.create_credit_note(credit, idempotency_key=credit_key(match)) if credit else None
    except (PostingRefusedError, ValidationError) as exc:
        reason = str(exc) if isinstance(exc, PostingRefusedError) else f"the platform refused it: {exc}"
        refuse(session, tenant, match, line, reason, actor=actor)
        return "refused"
    _record_posted(session, tenant, match, line, plan, payment.remote_id, note.remote_id if note else None,
                   actor=actor, now=now)
    _update_mirror(session, tenant, plan, credit, fresh)
    return "posted"


def _reread(connector: AccountingConnector, plan: Plan) -> dict[str, PlatformInvoice]:
    fresh: dict[str, PlatformInvoice] = {}
    for invoice_id in plan.dues:
        try:
            fresh[invoice_id] = connector.get_invoice(invoice_id)
        except NotFoundError:
            raise PostingRefusedError(f"{plan.numbers[invoice_id]} no longer exists on the platform") from None
    return fresh


def _effects(plan: Plan, credit: NewCreditNote | None) -> dict[str, tuple[Decimal, Decimal]]:
    paid = {a.invoice_id: a.amount for a in plan.candidate.allocations}
    credited = {a.invoice_id: a.amount for a in credit.allocations} if credit else {}
    return {i: (paid.get(i, ZERO), credited.get(i, ZERO)) for i in plan.dues}


def _check_fits(plan: Plan, credit: NewCreditNote | None, fresh: dict[str, PlatformInvoice]) -> None:
    """Raise PostingRefusedError unless every invoice still takes what this match applies to it."""
    for invoice_id, (pay, cred) in _effects(plan, credit).items():
        effect, before, inv = pay + cred, plan.dues[invoice_id], fresh[invoice_id]
        if effect == 0:
            continue
        now_due = inv.amount_due if inv.status in (InvoiceStatus.OPEN, InvoiceStatus.PAID) else None
        if now_due is None:
            raise PostingRefusedError(f"{inv.number} is {inv.status.value} on the platform")
        unchanged = now_due == before
        ours_before = now_due in (before - effect, before - pay)  # our own earlier, uncommitted attempt
        partial_still_fits = effect < before and effect <= now_due and inv.status is InvoiceStatus.OPEN
        if not (unchanged or ours_before or partial_still_fits):
            raise PostingRefusedError(f"{inv.number} amount due changed from {before} to {now_due} since "
                                      f"matching; {effect} no longer fits")


def _account_code(tenant: Tenant) -> str | None:
    code = (tenant.settings or {}).get("matching", {}).get("bank_account_code")
    return str(code) if code else None


def refuse(session: Session, tenant: Tenant, match: Match, line: BankLine, reason: str, *, actor: str) -> None:
    """Send a match back to the exception queue with the reason (nothing was posted for it)."""
    logger.info("tenant %s: match %s not posted: %s", tenant.id, match.id, reason)
    before = {"status": match.status, "decision": match.decision}
    match.decision, match.status = "suggest", "proposed"
    match.explanation = f"{match.explanation}; not posted: {reason}"
    line.status = "exception"
    session.add(AuditLog(tenant_id=tenant.id, actor=actor, action="match.refused", object_type="bank_line",
                         object_id=str(line.id), before=before,
                         after={"status": "proposed", "decision": "suggest"}, reason=reason))
    session.flush()


def _record_posted(session: Session, tenant: Tenant, match: Match, line: BankLine, plan: Plan,
                   payment_id: str, credit_id: str | None, *, actor: str, now: datetime) -> None:
    allocations = [{"invoice_id": a.invoice_id, "number": plan.numbers.get(a.invoice_id, a.invoice_id),
                    "amount": str(a.amount)} for a in plan.candidate.allocations]
    before = {"status": match.status, "line_status": line.status}
    match.status, match.posted_at = "posted", now
    match.posted_payment_ids = [payment_id] + ([credit_id] if credit_id else [])
    line.status = "reconciled"
    session.add(AuditLog(tenant_id=tenant.id, actor=actor, action="payment.posted", object_type="bank_line",
                         object_id=str(line.id), before=before,
                         after={"match_id": match.id, "payment_id": payment_id, "allocations": allocations,
                                "amount": str(sum((a.amount for a in plan.candidate.allocations), ZERO))},
                         reason=match.explanation))
    if credit_id:
        session.add(AuditLog(tenant_id=tenant.id, actor=actor, action="credit_note.posted",
                             object_type="bank_line", object_id=str(line.id), before=None,
                             after={"match_id": match.id, "credit_note_id": credit_id,
                                    "amount": str(plan.candidate.residual_amount)},
                             reason=f"deduction ({plan.candidate.deduction_reason or 'other'}) accepted"))
    session.flush()


def _update_mirror(session: Session, tenant: Tenant, plan: Plan, credit: NewCreditNote | None,
                   fresh: dict[str, PlatformInvoice]) -> None:
    # Keep the local cache close to the platform until the next sync overwrites it with the truth.
    for invoice_id, (pay, cred) in _effects(plan, credit).items():
        row = session.scalar(select(Invoice).where(Invoice.tenant_id == tenant.id, Invoice.remote_id == invoice_id))
        inv = fresh[invoice_id]
        if row is None or pay + cred == 0:
            continue
        due = inv.amount_due - pay - cred if inv.amount_due == plan.dues[invoice_id] else inv.amount_due
        row.amount_due = max(due, ZERO)
        row.amount_paid = (row.amount_paid or ZERO) + pay
        row.amount_credited = (row.amount_credited or ZERO) + cred
        if row.amount_due == 0:
            row.status = InvoiceStatus.PAID.value
    session.flush()
