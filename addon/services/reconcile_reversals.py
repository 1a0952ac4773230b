"""Money the bank took back after we posted it as a payment: flagged for a human, never ignored.

A bank reverses or returns an incoming payment (camt ``RvslInd``, a SEPA return, MT940 ``RC``, a BAI2
return code). If we already posted that payment, the ERP still shows the invoice paid although the
money left again. Deleting or reversing payments in the ERP is an accountant's call (the payment may
be reconciled, in a closed period, or re-presented), so Cashline never does it: the reversal line
goes to the exception queue naming the payment and invoices, and the audit log records it.

A reversal is linked to a posted incoming line of the same currency and opposite amount, booked
before it (within ``LOOKBACK``), not linked to another reversal yet, whose payer facts agree (no
differing counterparty account or name) and share at least one of end-to-end id, structured
reference, counterparty account, counterparty name or remittance text; the line sharing most wins,
the latest on a tie. A line carrying no payer facts at all (BAI2) is linked only when exactly one
posted line fits by amount, and says so.

When no posted line fits, the same rules look among the incoming lines not posted yet (queued for
posting, in the exception queue, or imported and not matched yet): money that came back must not be
posted at all. The reversal is linked, the original's match is held (never posted, whoever confirms it;
``reconcile_posting.post_match`` re-checks the link, so a job already queued for the original refuses
too) and both lines wait in the exception queue for a human.

A reversal may be imported before its original (an admin back-fills last week's statement after today's):
it then fits nothing and stays ignored. So reconciling a statement also looks at the earlier, still
unlinked reversals of other statements that may take back one of its incoming lines (same currency,
opposite amount, booked on or after the line and within ``LOOKBACK``) and links each by the same rules,
before anything of the statement is posted: the new line is held, never posted.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from addon.models import AuditLog, BankLine, Match, Tenant

logger = logging.getLogger(__name__)

LOOKBACK = timedelta(days=180)
REVERSAL = "reversal"  # Match.decision of a flagged reversal line (never posted)
HELD = "held"  # Match.status of a line the bank took back before we posted it (never posted)
_UNPOSTED_LINE = ("new", "matched", "exception")  # an incoming line whose money may still be posted


def flag_reversals(session: Session, tenant: Tenant, statement_id: int, *, actor: str) -> int:
    """Put the statement's reversals of posted payments into the exception queue; returns how many.

    The lines picked are those ``returns.takes_money_back`` describes, as stored at import.
    """
    lines = session.scalars(select(BankLine).where(
        BankLine.tenant_id == tenant.id, BankLine.statement_id == statement_id, BankLine.status == "ignored",
        BankLine.amount < 0, BankLine.reverses_line_id.is_(None),
        BankLine.reversal.is_(True) | BankLine.return_reason.is_not(None)).order_by(BankLine.id)).all()
    flagged = sum(_link(session, tenant, line, actor=actor) for line in lines)
    # Reversals imported before this statement, whose original may be one of its lines.
    earlier = _earlier_reversals(session, tenant, statement_id)
    flagged += sum(_link(session, tenant, line, actor=actor) for line in earlier)
    _hold_reversed_originals(session, tenant, statement_id, actor=actor)
    return flagged


def _link(session: Session, tenant: Tenant, line: BankLine, *, actor: str) -> bool:
    """Link the reversal ``line`` to the payment it takes back (posted, else not posted yet), if one fits."""
    found = _original(session, tenant, line, posted=True)
    if found is not None:
        orig, posted, by_amount = found
        assert posted is not None  # a posted line always has its match
        _flag(session, tenant, line, orig, posted, by_amount, actor=actor)
        return True
    if (found := _original(session, tenant, line, posted=False)) is not None:
        _flag_unposted(session, tenant, line, *found, actor=actor)
        return True
    return False


def _earlier_reversals(session: Session, tenant: Tenant, statement_id: int) -> list[BankLine]:
    """Unlinked reversals of other statements (ignored, or waiting in the exception queue) that may take back
    one of this statement's incoming lines: same currency, opposite amount, booked on or after it and
    within ``LOOKBACK`` (the window ``_original`` looks back from the reversal)."""
    incoming: dict[tuple[Decimal, str], list[date]] = {}
    for amount, currency, booked in session.execute(select(BankLine.amount, BankLine.currency, BankLine.booking_date)
                                                    .where(BankLine.tenant_id == tenant.id,
                                                           BankLine.statement_id == statement_id, BankLine.amount > 0)):
        incoming.setdefault((amount, currency), []).append(booked)
    if not incoming:
        return []
    first = min(d for dates in incoming.values() for d in dates)
    last = max(d for dates in incoming.values() for d in dates)
    # Reversals are few, so they are fetched by date and flags and fitted here (a statement's amounts can
    # be thousands of values, too many for an IN list).
    candidates = session.scalars(select(BankLine).where(
        BankLine.tenant_id == tenant.id, BankLine.statement_id != statement_id,
        BankLine.status.in_(("ignored", "exception")), BankLine.amount < 0, BankLine.reverses_line_id.is_(None),
        BankLine.reversal.is_(True) | BankLine.return_reason.is_not(None),
        BankLine.booking_date >= first, BankLine.booking_date <= last + LOOKBACK).order_by(BankLine.id)).all()
    return [rev for rev in candidates
            if any(d <= rev.booking_date <= d + LOOKBACK for d in incoming.get((-rev.amount, rev.currency), ()))]


def _hold_reversed_originals(session: Session, tenant: Tenant, statement_id: int, *, actor: str) -> None:
    # A reversal imported before its original was matched links the bare line; the match made for it
    # since (this statement's run) is held here, before anything is posted.
    reversal = aliased(BankLine)
    rows = session.execute(
        select(BankLine, Match, reversal).join(Match, Match.bank_line_id == BankLine.id)
        .join(reversal, reversal.reverses_line_id == BankLine.id)
        .where(BankLine.tenant_id == tenant.id, BankLine.statement_id == statement_id,
               Match.status.in_(("proposed", "confirmed")), Match.decision != REVERSAL)).all()
    for line, match, rev in rows:
        hold(session, tenant, match, line, rev, actor=actor)
    session.flush()


def reversed_by(session: Session, tenant: Tenant, line: BankLine) -> BankLine | None:
    """The reversal linked to ``line`` (money the bank took back), if any."""
    return session.scalars(select(BankLine).where(BankLine.tenant_id == tenant.id,
                                                  BankLine.reverses_line_id == line.id)).first()


def hold(session: Session, tenant: Tenant, match: Match, line: BankLine, reversal: BankLine, *,
         actor: str) -> None:
    """Stop ``match`` from ever being posted: the bank took its money back (``reversal``)."""
    if match.status == HELD:
        return
    reason = (f"held: the bank took this payment back (bank line {reversal.id} of "
              f"{reversal.booking_date.isoformat()}, {reversal.amount} {reversal.currency}"
              + (f", return reason {reversal.return_reason}" if reversal.return_reason else "")
              + "); nothing was posted: reject both lines once handled")
    before = {"status": match.status, "decision": match.decision, "line_status": line.status}
    match.status, line.status = HELD, "exception"
    match.explanation = f"{match.explanation}; {reason}" if match.explanation else reason
    logger.warning("tenant %s: match %s %s", tenant.id, match.id, reason)
    session.add(AuditLog(tenant_id=tenant.id, actor=actor, action="match.held", object_type="bank_line",
                         object_id=str(line.id), before=before,
                         after={"status": HELD, "line_status": "exception", "reversal_line_id": reversal.id},
                         reason=reason))
    session.flush()


def _original(session: Session, tenant: Tenant, line: BankLine, *,
              posted: bool) -> tuple[BankLine, Match | None, bool] | None:
    """The incoming line this reversal takes back (posted, or else not posted yet), its match (None when
    not matched yet), and whether only the amount links them."""
    other = aliased(BankLine)
    if posted:
        state = Match.status == "posted"
    else:
        state = (BankLine.status.in_(_UNPOSTED_LINE)
                 & (Match.id.is_(None) | (Match.status.in_(("proposed", "confirmed")) & (Match.decision != REVERSAL))))
    rows = session.execute(
        select(BankLine, Match).outerjoin(Match, Match.bank_line_id == BankLine.id)
        .where(BankLine.tenant_id == tenant.id, state, BankLine.amount == -line.amount,
               BankLine.currency == line.currency, BankLine.booking_date <= line.booking_date,
               BankLine.booking_date >= line.booking_date - LOOKBACK,
               ~exists().where(other.reverses_line_id == BankLine.id))
        .order_by(BankLine.booking_date.desc(), BankLine.id.desc())).all()
    scored = [(score, orig, match) for orig, match in rows if (score := _shared_facts(line, orig))]
    if scored:
        best = max(score for score, _, _ in scored)
        _, orig, match = next(s for s in scored if s[0] == best)  # rows are latest first
        return orig, match, False
    if not _has_payer_facts(line) and len(rows) == 1:
        return rows[0][0], rows[0][1], True
    return None


def _shared_facts(rev: BankLine, orig: BankLine) -> int:
    """How many identifying facts the two lines share; 0 when their payers disagree."""
    accounts = _norm(rev.counterparty_account), _norm(orig.counterparty_account)
    names = _norm(rev.counterparty_name), _norm(orig.counterparty_name)
    if all(accounts) and accounts[0] != accounts[1]:
        return 0
    if all(names) and not (names[0].startswith(names[1]) or names[1].startswith(names[0])):
        return 0  # a prefix still agrees: banks truncate names differently
    pairs = [(rev.end_to_end_id, orig.end_to_end_id), (rev.structured_reference, orig.structured_reference),
             accounts, names, (rev.remittance_text, orig.remittance_text)]
    return sum(1 for a, b in pairs if _norm(a) and _norm(a) == _norm(b))


def _has_payer_facts(line: BankLine) -> bool:
    return any((line.end_to_end_id, line.structured_reference, line.counterparty_account, line.counterparty_name))


def _norm(value: str | None) -> str:
    return " ".join((value or "").casefold().split())


def _flag(session: Session, tenant: Tenant, line: BankLine, original: BankLine, posted: Match, by_amount: bool,
          *, actor: str) -> None:
    numbers = [str(a.get("number") or a["invoice_id"]) for a in posted.allocations]
    payment_ids = [str(i) for i in posted.posted_payment_ids]
    reason = _explanation(line, original, numbers, payment_ids, by_amount)
    _queue_reversal(session, tenant, line, original, reason, actor=actor,
                    facts={"match_id": posted.id, "payment_ids": payment_ids, "invoices": numbers})


def _explanation(line: BankLine, original: BankLine, numbers: list[str], payment_ids: list[str],
                 by_amount: bool) -> str:
    payer = f" from {original.counterparty_name}" if original.counterparty_name else ""
    text = (f"payment reversed by the bank after it was posted as payment {payment_ids[0] if payment_ids else '?'} "
            f"on invoice{'s' if len(numbers) > 1 else ''} {', '.join(numbers)} (bank line {original.id} of "
            f"{original.booking_date.isoformat()}, {original.amount} {original.currency}{payer})")
    if line.return_reason:
        text += f"; return reason {line.return_reason}"
    if by_amount:
        text += "; linked by the amount only, check it is that payment"
    return (text + "; the ERP still shows it paid: reverse or delete the payment there (Cashline does not), "
            "then reject this line to clear it")


def _flag_unposted(session: Session, tenant: Tenant, line: BankLine, original: BankLine, match: Match | None,
                   by_amount: bool, *, actor: str) -> None:
    """Link a reversal to a line not posted yet, hold the original's match, queue both for a human."""
    payer = f" from {original.counterparty_name}" if original.counterparty_name else ""
    where = ("not matched yet" if match is None else "confirmed, waiting to be posted" if match.status == "confirmed"
             else "queued for posting" if match.decision == "auto" else "waiting in the exception queue")
    reason = (f"payment reversed by the bank before it was posted (bank line {original.id} of "
              f"{original.booking_date.isoformat()}, {original.amount} {original.currency}{payer}, {where})")
    if line.return_reason:
        reason += f"; return reason {line.return_reason}"
    if by_amount:
        reason += "; linked by the amount only, check it is that payment"
    reason += "; nothing was posted and the original is held: reject both lines once handled"
    _queue_reversal(session, tenant, line, original, reason, actor=actor,
                    facts={"match_id": match.id if match else None, "payment_ids": [], "posted": False})
    session.flush()
    if match is not None:
        hold(session, tenant, match, original, line, actor=actor)


def _queue_reversal(session: Session, tenant: Tenant, line: BankLine, original: BankLine, reason: str, *,
                    actor: str, facts: dict[str, object]) -> None:
    """Put the reversal ``line`` in the exception queue, linked to ``original``, with its audit record."""
    logger.warning("tenant %s: bank line %s: %s", tenant.id, line.id, reason)
    before = line.status
    match = session.scalar(select(Match).where(Match.bank_line_id == line.id))
    if match is None:  # a reversal waiting in the queue unlinked already has one: it becomes the reversal's
        match = Match(tenant_id=tenant.id, bank_line_id=line.id)
        session.add(match)
    match.decision, match.confidence, match.allocations, match.suggestions = REVERSAL, Decimal("0"), [], []
    match.explanation, match.residual, match.status, match.posted_payment_ids = reason, None, "proposed", []
    line.status, line.reverses_line_id = "exception", original.id
    session.add(AuditLog(tenant_id=tenant.id, actor=actor, action="payment.reversed", object_type="bank_line",
                         object_id=str(line.id), before={"line_status": before},
                         after={"line_status": "exception", "original_line_id": original.id, **facts,
                                "amount": str(line.amount), "return_reason": line.return_reason},
                         reason=reason))
