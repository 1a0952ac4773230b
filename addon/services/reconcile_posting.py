"""Post a match to the platform: re-read, check it still fits, write idempotently, record.

The ERP is the system of record, so every invoice is re-read right before posting and compared with
the amount due the match was made against (the snapshot stored in the match). If it changed so the
allocation no longer fits (someone else paid, the invoice was voided or edited), the line goes back
to the exception queue with the reason instead of being posted.

Retries never post twice: the payment carries ``match-<id>`` (Xero derives ``match-<id>-overpayment`` for
an overpaid remainder), the credit note ``match-<id>-credit`` and the fee/FX bank transaction
``match-<id>-fee`` / ``match-<id>-fx`` as idempotency keys, and a posted match is skipped.

Before the first platform call the match records the key it is about to send (``attempt_key``) and the
caller's checkpoint commits it. A retry that finds the invoice reduced by exactly this match's effect
then knows which it is: with the marker, possibly our own earlier attempt that died before our commit
(the same keys are sent again, the platform replays what it did and does only what is missing, e.g. the
fee after the payment); without it, someone recorded the money in the ERP meanwhile, so nothing is
posted and the line goes back to the queue ("already recorded there?").

A posting refused after part of it was saved (the credit note after the payment; on Xero the overpayment
after the batch payment, or one invoice's payment of a foreign-currency combined payment) counts the
refusal of that part (``matches.part_refusals``): the retry re-sends the saved parts' keys (replayed) and
the refused part under a fresh one (``connectors.base.part_key``), so once the cause is fixed it completes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.domain.matching import (
    AdjustmentAccounts,
    Candidate,
    Residual,
    proposed_adjustment,
    proposed_credit_note,
    proposed_payment,
)
from addon.domain.types import Allocation, BankTransaction, InvoiceStatus, NewBankTransaction, NewCreditNote, Payment
from addon.domain.types import BankLine as DomainBankLine
from addon.domain.types import Invoice as PlatformInvoice
from addon.extensions import get_for_tenant
from addon.models import AuditLog, BankLine, Invoice, Match, Tenant
from addon.services.reconcile_import import to_domain_line
from addon.services.reconcile_reversals import hold, reversed_by
from connectors.base import AccountingConnector, part_key
from connectors.errors import NotFoundError, PartiallyPostedError, ValidationError

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
CREDIT_PART = "-credit"  # what the deduction credit note's key adds to the payment's


class PostingRefusedError(Exception):
    """The match no longer fits the platform's ledger; it goes back to the exception queue."""


@dataclass(frozen=True)
class Plan:
    """What posting a match means: the candidate, and each invoice's amount due when it was matched."""

    candidate: Candidate
    dues: dict[str, Decimal]
    numbers: dict[str, str]


def payment_key(match: Match) -> str:
    """Idempotency key of the payment posted for ``match``: the one an earlier attempt sent, if it may have
    posted; else ``match-<id>``, or ``match-<id>-retry<n>`` after the platform refused it ``n`` times."""
    if match.attempt_key:
        return match.attempt_key
    refusals = match.platform_refusals or 0
    return f"match-{match.id}-retry{refusals}" if refusals else f"match-{match.id}"


def credit_key(match: Match) -> str:
    """Idempotency key of the deduction credit note posted for ``match`` (fresh after a refusal of it)."""
    return part_key(payment_key(match), CREDIT_PART, match.part_refusals)


def adjustment_key(match: Match, residual: Residual) -> str:
    """Idempotency key of the bank transaction booking ``match``'s fee or FX difference."""
    return f"{payment_key(match)}-{residual.value}"


def pending_matches(session: Session, tenant: Tenant, statement_id: int | None = None) -> list[Match]:
    """Auto decisions not yet posted, and admin-confirmed matches (oldest first)."""
    query = (select(Match).join(BankLine, Match.bank_line_id == BankLine.id)
             .where(Match.tenant_id == tenant.id,
                    ((Match.decision == "auto") & (Match.status == "proposed")) | (Match.status == "confirmed"))
             .order_by(Match.id))
    if statement_id is not None:
        query = query.where(BankLine.statement_id == statement_id)
    return list(session.scalars(query))


def plan_of(match: Match, line_amount: Decimal) -> Plan:
    """Rebuild the engine candidate behind the match's chosen allocations (for the posting helpers).

    For allocations an admin picked by hand, ``line_amount`` decides the remainder: what the picks leave
    of the line is an overpayment (unapplied credit).
    """
    allocations = tuple(Allocation(a["invoice_id"], Decimal(a["amount"])) for a in match.allocations)
    if not allocations:
        raise PostingRefusedError("the match has no allocation to post")
    dues = {a["invoice_id"]: Decimal(a["amount_due"]) for a in match.allocations}
    numbers = {a["invoice_id"]: a.get("number", a["invoice_id"]) for a in match.allocations}
    chosen = next((s for s in match.suggestions if _key(s["allocations"]) == _key(match.allocations)), None)
    if chosen is None:  # an admin picked the invoices and amounts by hand
        customer = match.allocations[0].get("customer_id")
        left = line_amount - sum((a.amount for a in allocations), ZERO)
        residual = Residual.OVERPAYMENT if left > 0 else None
        return Plan(Candidate(allocations, 1.0, ("allocation chosen by an admin",), customer_id=customer,
                              residual=residual, residual_amount=max(left, ZERO)), dues, numbers)
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
               actor: str, now: datetime, checkpoint: Callable[[], None] | None = None) -> str:
    """Post one match; returns 'posted', 'already' (posted before) or 'refused' (back in the queue).

    ``checkpoint`` (the caller's commit) makes the attempt marker durable before the platform is
    called; without it the marker is only flushed, and a retry after a lost transaction treats a
    reduced invoice as recorded by someone else (refused, never posted twice).

    Connector errors other than a validation refusal propagate: the caller (a job) retries, and the
    idempotency keys make the retry safe.
    """
    if match.status == "posted":
        return "already"
    line = get_for_tenant(session, BankLine, match.bank_line_id, tenant.id)
    if line is None:
        raise LookupError(f"bank line {match.bank_line_id} not found for tenant {tenant.id}")
    if (reversal := reversed_by(session, tenant, line)) is not None:
        # The bank took this money back since the match was queued: never post it (re-checked here, so
        # a job queued before the reversal arrived refuses too). The session keeps objects across commits,
        # so read the match again: the worker that linked the reversal may have held it already.
        session.refresh(match)
        hold(session, tenant, match, line, reversal, actor=actor)
        return "refused"
    payment: Payment | None = None
    try:
        plan = plan_of(match, line.amount)
        dline = to_domain_line(line)
        credit = proposed_credit_note(plan.candidate, dline, plan.dues)
        fresh = _reread(connector, plan)
        ours = _ours_since_matching(session, tenant, match, plan, fresh)
        replayed = _check_fits(plan, credit, fresh, line.currency, ours, attempted=match.attempt_key is not None)
        _start_attempt(session, match, now, checkpoint)
        payment = connector.create_payment(
            proposed_payment(plan.candidate, dline, account_code=_setting(tenant, "bank_account_code")),
            idempotency_key=payment_key(match), part_refusals=match.part_refusals or {})
        note = connector.create_credit_note(credit, idempotency_key=credit_key(match)) if credit else None
    except (PostingRefusedError, ValidationError) as exc:
        reason = str(exc) if isinstance(exc, PostingRefusedError) else f"the platform refused it: {exc}"
        saved = _saved_before_refusal(payment, exc)
        if saved and isinstance(exc, ValidationError):
            _count_part_refusal(match, CREDIT_PART if payment is not None else getattr(exc, "part", None))
        if saved:
            # Part of it is on the platform: say exactly what, and keep the attempt marker so a retry (the
            # same keys) takes the reduced invoices for our own replayed work and posts only the rest.
            reason += (f"; already posted there: {', '.join(saved)} (a retry re-sends their keys, so these "
                       "are not posted twice, and the refused part under a fresh key)")
        elif isinstance(exc, ValidationError):
            _forget_attempt(match)
        refuse(session, tenant, match, line, reason, actor=actor)
        return "refused"
    booked = _book_adjustment(session, tenant, connector, match, plan, dline, actor=actor)
    _record_posted(session, tenant, match, line, plan, payment, note.remote_id if note else None,
                   actor=actor, now=now)
    if booked is not None:
        match.posted_payment_ids = [*match.posted_payment_ids, booked.remote_id]
    _update_mirror(session, tenant, plan, credit, fresh, replayed)
    return "posted"


def _saved_before_refusal(payment: Payment | None, exc: Exception) -> list[str]:
    """The platform ids of what this match already put there when a later step was refused: the payment
    when the credit note was refused, or the parts a connector saved before it was refused
    (PartiallyPostedError: e.g. a Xero payment whose overpayment was refused)."""
    if payment is not None:
        return [payment.remote_id, *(i for i in payment.part_ids if i != payment.remote_id)]
    return list(exc.saved) if isinstance(exc, PartiallyPostedError) else []


def _count_part_refusal(match: Match, part: str | None) -> None:
    # The saved parts keep their keys (a retry replays them); the refused part's key may be answered by
    # replaying the refusal, so the retry sends it under a fresh one (part_key) and can complete it.
    if part is not None:
        refusals = dict(match.part_refusals or {})
        refusals[part] = int(refusals.get(part, 0)) + 1
        match.part_refusals = refusals  # a new dict: the JSON column only notices assignment


def _start_attempt(session: Session, match: Match, now: datetime, checkpoint: Callable[[], None] | None) -> None:
    """Record (durably, via ``checkpoint``) that this match is about to be sent, with its key.

    Kept from the first attempt on: a retry sends the same key so the platform replays, and a
    reduced invoice is only taken for our own work when this marker says we may have posted.
    """
    if match.attempt_key is not None:
        return
    match.attempt_key, match.attempt_started_at = payment_key(match), now
    session.flush()
    if checkpoint is not None:
        checkpoint()


def _forget_attempt(match: Match) -> None:
    # The platform refused the payment itself, so nothing of ours is there: a later attempt (after an
    # admin's decision) must not take a reduced invoice for our own earlier payment, and sends a new key.
    if match.attempt_key is not None:
        match.platform_refusals = (match.platform_refusals or 0) + 1
    match.attempt_key = match.attempt_started_at = None
    match.part_refusals = {}  # parts are counted per payment key, and the next attempt sends a new one


def adjustment_accounts(tenant: Tenant, connector: AccountingConnector) -> AdjustmentAccounts:
    """The tenant's fee and FX accounts (matching settings), else the platform's standard ones."""
    return AdjustmentAccounts(fee=_setting(tenant, "fee_account_code") or connector.default_fee_account,
                              fx=_setting(tenant, "fx_account_code") or connector.default_fx_account)


def _book_adjustment(session: Session, tenant: Tenant, connector: AccountingConnector, match: Match, plan: Plan,
                     dline: DomainBankLine, *, actor: str) -> BankTransaction | None:
    """Book a fee or FX residual as a bank transaction so the bank account moves by the line amount.

    A platform refusal here (a wrong account in the settings) must not undo the payment already
    posted: it is recorded on the match and in the audit log for an admin to book by hand.
    """
    txn = proposed_adjustment(plan.candidate, dline, adjustment_accounts(tenant, connector),
                              bank_account_code=_setting(tenant, "bank_account_code"))
    if txn is None or plan.candidate.residual is None:
        return None
    try:
        booked = connector.create_bank_transaction(txn, idempotency_key=adjustment_key(match,
                                                                                        plan.candidate.residual))
    except ValidationError as exc:
        _audit_adjustment(session, tenant, match, txn, None, actor=actor, refused=str(exc))
        return None
    _audit_adjustment(session, tenant, match, txn, booked.remote_id, actor=actor)
    return booked


def _audit_adjustment(session: Session, tenant: Tenant, match: Match, txn: NewBankTransaction,
                      remote_id: str | None, *, actor: str, refused: str | None = None) -> None:
    what = f"{txn.kind.value} {txn.amount} {txn.currency} to account {txn.account_code}"
    if refused:
        logger.warning("tenant %s: match %s: %s not booked: %s", tenant.id, match.id, what, refused)
        match.explanation = f"{match.explanation}; {what} not booked: the platform refused it: {refused}"
    session.add(AuditLog(tenant_id=tenant.id, actor=actor,
                         action="bank_transaction.refused" if refused else "bank_transaction.posted",
                         object_type="bank_line", object_id=str(match.bank_line_id), before=None,
                         after={"match_id": match.id, "bank_transaction_id": remote_id, "kind": txn.kind.value,
                                "amount": str(txn.amount), "account_code": txn.account_code},
                         reason=refused or txn.description))
    session.flush()


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


def _ours_since_matching(session: Session, tenant: Tenant, match: Match, plan: Plan,
                         fresh: dict[str, PlatformInvoice]) -> dict[str, Decimal]:
    """What our own other posted matches applied to this match's invoices after its amounts due were read.

    Two lines of one statement paying the same invoice the same partial amount are matched against the
    same amount due; once the first is posted, the second finds the invoice reduced by exactly its own
    amount, which without this would look like the money recorded by hand. Our postings are all in our
    own tables, so they are told apart here: a posted match counts when it changed after this match was
    made (``updated_at`` >= ``created_at``, one clock) and its effect is not already in this match's
    snapshot (the mirror is reduced right after posting, so a later snapshot is at most its amount due
    minus its effect).
    """
    changed = {i for i, due in plan.dues.items() if fresh[i].amount_due != due}
    if not changed:
        return {}
    rows = session.execute(select(Match, BankLine).join(BankLine, Match.bank_line_id == BankLine.id)
                           .where(Match.tenant_id == tenant.id, Match.status == "posted", Match.id != match.id,
                                  Match.updated_at >= match.created_at)).all()
    ours: dict[str, Decimal] = {}
    for other, other_line in rows:
        if not changed & {a["invoice_id"] for a in other.allocations}:
            continue
        other_plan = plan_of(other, other_line.amount)
        other_credit = proposed_credit_note(other_plan.candidate, to_domain_line(other_line), other_plan.dues)
        for invoice_id, (pay, cred) in _effects(other_plan, other_credit).items():
            if invoice_id in changed and plan.dues[invoice_id] > other_plan.dues[invoice_id] - pay - cred:
                ours[invoice_id] = ours.get(invoice_id, ZERO) + pay + cred
    return ours


def _check_fits(plan: Plan, credit: NewCreditNote | None, fresh: dict[str, PlatformInvoice],
                currency: str, ours: dict[str, Decimal], *, attempted: bool) -> set[str]:
    """Raise PostingRefusedError unless every invoice still takes what this match applies to it.

    ``ours``: per invoice, what our own other matches posted since this one was matched (expected
    reductions, see ``_ours_since_matching``). ``attempted``: an earlier attempt for this match may have
    reached the platform (its marker is set). Returns the invoices that already hold this match's effect
    (our own earlier attempt, replayed under the same key).
    """
    replayed: set[str] = set()
    for invoice_id, (pay, cred) in _effects(plan, credit).items():
        effect, before, inv = pay + cred, plan.dues[invoice_id], fresh[invoice_id]
        if inv.currency.upper() != currency.upper():
            # The allocation is in the invoice's currency, the payment in the line's: never mix them.
            raise PostingRefusedError(f"{inv.number} is in {inv.currency} but the line is in {currency}")
        if effect == 0:
            continue
        now_due = inv.amount_due if inv.status in (InvoiceStatus.OPEN, InvoiceStatus.PAID) else None
        if now_due is None:
            raise PostingRefusedError(f"{inv.number} is {inv.status.value} on the platform")
        if now_due == before:
            continue
        expected = before - ours.get(invoice_id, ZERO)  # after our own other postings, nobody else's
        if now_due == expected and effect <= now_due:
            continue
        if now_due in (expected - effect, expected - pay):
            # Reduced by exactly this line: our own earlier attempt (only possible if one started; the
            # same key makes the platform replay it), or the same money recorded in the ERP by hand.
            if attempted:
                replayed.add(invoice_id)
                continue
            raise PostingRefusedError(f"{inv.number} amount due changed on the platform since matching "
                                      f"({expected} to {now_due}, by this line's {expected - now_due}); "
                                      "already recorded there?")
        partial_still_fits = effect < before and effect <= now_due and inv.status is InvoiceStatus.OPEN
        if not partial_still_fits:
            raise PostingRefusedError(f"{inv.number} amount due changed from {before} to {now_due} since "
                                      f"matching; {effect} no longer fits")
    return replayed


def _setting(tenant: Tenant, name: str) -> str | None:
    """An account code from ``tenant.settings["matching"]`` (None when not configured)."""
    code = (tenant.settings or {}).get("matching", {}).get(name)
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
                   payment: Payment, credit_id: str | None, *, actor: str, now: datetime) -> None:
    payment_id = payment.remote_id
    allocations = [{"invoice_id": a.invoice_id, "number": plan.numbers.get(a.invoice_id, a.invoice_id),
                    "amount": str(a.amount)} for a in plan.candidate.allocations]
    before = {"status": match.status, "line_status": line.status}
    match.status, match.posted_at = "posted", now
    # A Xero batch payment is stored by its BatchPaymentID (what deletes it), then its payments.
    parts = [i for i in payment.part_ids if i != payment_id]
    match.posted_payment_ids = [payment_id, *parts] + [i for i in (credit_id, payment.overpayment_id) if i]
    line.status = "reconciled"
    session.add(AuditLog(tenant_id=tenant.id, actor=actor, action="payment.posted", object_type="bank_line",
                         object_id=str(line.id), before=before,
                         after={"match_id": match.id, "payment_id": payment_id, "allocations": allocations,
                                "amount": str(sum((a.amount for a in plan.candidate.allocations), ZERO)),
                                "unapplied": str(payment.unapplied_amount),
                                "overpayment_id": payment.overpayment_id},
                         reason=match.explanation))
    if credit_id:
        session.add(AuditLog(tenant_id=tenant.id, actor=actor, action="credit_note.posted",
                             object_type="bank_line", object_id=str(line.id), before=None,
                             after={"match_id": match.id, "credit_note_id": credit_id,
                                    "amount": str(plan.candidate.residual_amount)},
                             reason=f"deduction ({plan.candidate.deduction_reason or 'other'}) accepted"))
    session.flush()


def _update_mirror(session: Session, tenant: Tenant, plan: Plan, credit: NewCreditNote | None,
                   fresh: dict[str, PlatformInvoice], replayed: set[str]) -> None:
    # Keep the local cache close to the platform until the next sync overwrites it with the truth.
    for invoice_id, (pay, cred) in _effects(plan, credit).items():
        if pay + cred == 0:
            continue
        row = session.scalar(select(Invoice).where(Invoice.tenant_id == tenant.id, Invoice.remote_id == invoice_id))
        inv = fresh[invoice_id]
        if row is None:
            continue
        # The re-read amount due already holds this match's effect only when the platform replayed it.
        due = inv.amount_due if invoice_id in replayed else inv.amount_due - pay - cred
        row.amount_due = max(due, ZERO)
        row.amount_paid = (row.amount_paid or ZERO) + pay
        row.amount_credited = (row.amount_credited or ZERO) + cred
        if row.amount_due == 0:
            row.status = InvoiceStatus.PAID.value
    session.flush()
