"""Cash application, the orchestration: import a statement, match it, post, and run the exception queue.

Entry points (all flush, never commit):

* ``import_statement(session, tenant, data, filename, mapping=None)`` -> summary dict
* ``reconcile(session, tenant, connector, statement_id, now)`` -> summary dict (match new lines, then
  post auto decisions and admin-confirmed matches)
* ``confirm_suggestion`` / ``change_match`` / ``reject_match`` for the exception queue; confirming or
  changing teaches the payer alias so the next payment from that payer auto-matches.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from addon.domain.statements.text import minor_units
from addon.extensions import get_for_tenant
from addon.models import AuditLog, BankLine, BankStatement, Customer, Invoice, Match, PayerAlias, Tenant
from addon.services.reconcile_import import (
    import_statement,
    mapping_names,
    resolve_mapping,
    save_mapping,
    saved_mappings,
)
from addon.services.reconcile_matching import ACCOUNT_ALIAS, NAME_ALIAS, match_statement, matching_config
from addon.services.reconcile_posting import PostingRefusedError, pending_matches, post_match
from addon.services.reconcile_reversals import REVERSAL, flag_reversals, reversed_by
from connectors.base import AccountingConnector

logger = logging.getLogger(__name__)

__all__ = [
    "QueueActionError", "change_match", "confirm_suggestion", "exception_queue", "import_statement",
    "mapping_names", "matching_config", "post_confirmed", "recent_statements", "reconcile", "reject_match",
    "resolve_mapping", "save_mapping", "saved_mappings",
]


class QueueActionError(ValueError):
    """An exception-queue action that cannot apply (wrong state, bad amount, unknown invoice)."""


def reconcile(session: Session, tenant: Tenant, connector: AccountingConnector, statement_id: int,
              now: datetime, *, actor: str = "system",
              checkpoint: Callable[[], None] | None = None) -> dict[str, Any]:
    """Match the statement's new lines, then post what is due; safe to run again (posts nothing twice).

    ``checkpoint`` (a job passes its session's commit) runs after matching and after each posted
    match. The idempotency keys are the match ids, so the matches must be durable before the first
    platform call: a retry then reuses the same ids and the platform replays instead of duplicating.
    """
    statement = get_for_tenant(session, BankStatement, statement_id, tenant.id)
    if statement is None:
        raise LookupError(f"statement {statement_id} not found for tenant {tenant.id}")
    decisions = match_statement(session, tenant, statement_id)
    # Before posting: money the bank already took back (a payment and its return in one statement, or a
    # reversal of a line still queued) is held, not posted; reversals of posted payments are flagged.
    reversals = flag_reversals(session, tenant, statement_id, actor=actor)
    if checkpoint is not None:
        checkpoint()
    outcomes: Counter[str] = Counter()
    for match in pending_matches(session, tenant, statement_id):
        outcomes[post_match(session, tenant, connector, match, actor=actor, now=now, checkpoint=checkpoint)] += 1
        if checkpoint is not None:
            checkpoint()
    by_status = dict(session.execute(select(BankLine.status, func.count()).where(
        BankLine.tenant_id == tenant.id, BankLine.statement_id == statement_id).group_by(BankLine.status)).all())
    summary = {"statement_id": statement_id, "matched": sum(decisions.values()),
               "auto": decisions["auto"], "suggest": decisions["suggest"], "none": decisions["none"],
               "posted": outcomes["posted"], "refused": outcomes["refused"], "reversals": reversals,
               "reconciled": by_status.get("reconciled", 0), "exceptions": by_status.get("exception", 0)}
    logger.info("tenant %s reconciled statement %s: %s", tenant.id, statement_id, summary)
    return summary


# --- the exception queue ------------------------------------------------------------------------------
def _open_match(session: Session, tenant: Tenant, line_id: int) -> tuple[BankLine, Match]:
    line = get_for_tenant(session, BankLine, line_id, tenant.id)
    match = session.scalar(select(Match).where(Match.bank_line_id == line_id)) if line else None
    if line is None or match is None:
        raise QueueActionError("no such line in the exception queue")
    if line.status != "exception" or match.status in ("posted", "rejected"):
        raise QueueActionError(f"this line is already {line.status}")
    return line, match


def confirm_suggestion(session: Session, tenant: Tenant, line_id: int, index: int, *,
                       user_id: int | None) -> Match:
    """Accept the ``index``-th ranked suggestion (post it with ``post_confirmed``) and learn the payer."""
    line, match = _open_match(session, tenant, line_id)
    _not_a_reversal(session, tenant, line, match)
    if not 0 <= index < len(match.suggestions):
        raise QueueActionError("no such suggestion")
    chosen = match.suggestions[index]
    _same_currency(session, tenant, line, [a["invoice_id"] for a in chosen["allocations"]])
    match.allocations = [dict(a) for a in chosen["allocations"]]
    match.residual = chosen["residual"]
    _decided(session, tenant, line, match, user_id, f"confirmed suggestion {index + 1}")
    _learn(session, tenant, line, chosen["customer_id"])
    return match


def _not_a_reversal(session: Session, tenant: Tenant, line: BankLine, match: Match) -> None:
    # Money taken back is not a payment to apply: the fix is undoing the earlier payment in the ERP (or,
    # when it was never posted, nothing at all).
    if match.decision == REVERSAL:
        raise QueueActionError("this line is a reversal of a payment: if that payment was posted, reverse it "
                               "in the ERP, then reject this line to clear it")
    reversal = reversed_by(session, tenant, line)
    if reversal is not None:
        raise QueueActionError(f"the bank took this payment back (bank line {reversal.id}): nothing can be "
                               "posted for it; reject both lines once handled")


def _same_currency(session: Session, tenant: Tenant, line: BankLine, remote_ids: Sequence[str]) -> None:
    """Refuse invoices in another currency than the line: the engine only suggests them ("FX conversion
    needed"), and posting would apply the line's amount as if it were the invoice's currency."""
    invoices = session.scalars(select(Invoice).where(Invoice.tenant_id == tenant.id,
                                                     Invoice.remote_id.in_(list(remote_ids)))).all()
    for inv in invoices:
        if inv.currency != line.currency:
            raise QueueActionError(f"{inv.number} is in {inv.currency} but the line is in {line.currency}; "
                                   "book a payment in another currency in the ERP, with its exchange rate")


def change_match(session: Session, tenant: Tenant, line_id: int, picks: Sequence[tuple[int | str, str]], *,
                 user_id: int | None) -> Match:
    """Apply the line to invoices and amounts an admin chose: ``picks`` are (our ``Invoice.id`` or its
    number, amount text).

    The invoices must be open, belong to one customer and be in the line's currency; each amount is above
    0 and at most the invoice's amount due, and together at most the line amount. Whatever the picks leave
    of the line is posted as an overpayment: unapplied credit for the customer.
    """
    line, match = _open_match(session, tenant, line_id)
    _not_a_reversal(session, tenant, line, match)
    chosen = _checked_picks(session, tenant, line, picks)
    customer = chosen[0][0].customer
    assert customer is not None  # _checked_picks only returns invoices with a customer
    match.allocations = [{"invoice_id": inv.remote_id, "number": inv.number, "amount": str(value),
                          "amount_due": str(inv.amount_due), "customer_id": customer.remote_id}
                         for inv, value in chosen]
    left = line.amount - sum((value for _, value in chosen), Decimal("0"))
    partial = any(value < inv.amount_due for inv, value in chosen)
    match.residual = "overpayment" if left > 0 else "partial" if partial else None
    what = ", ".join(f"{inv.number} {value}" for inv, value in chosen)
    _decided(session, tenant, line, match, user_id, f"changed to {what}" + (f"; {left} unapplied" if left > 0 else ""))
    _learn(session, tenant, line, customer.remote_id)
    return match


def _checked_picks(session: Session, tenant: Tenant, line: BankLine,
                   picks: Sequence[tuple[int | str, str]]) -> list[tuple[Invoice, Decimal]]:
    chosen: list[tuple[Invoice, Decimal]] = []
    for ref, amount in picks:
        found = _invoice(session, tenant, ref)
        if found is None or found.status != "open" or found.customer is None:
            raise QueueActionError(f"pick an open invoice ({str(ref).strip() or 'none given'} is not one)")
        if any(inv.id == found.id for inv, _ in chosen):
            raise QueueActionError(f"{found.number} is picked twice")
        if found.currency != line.currency:
            raise QueueActionError(f"{found.number} is in {found.currency} but the line is in {line.currency}")
        if chosen and found.customer_id != chosen[0][0].customer_id:
            raise QueueActionError(f"{found.number} belongs to another customer than {chosen[0][0].number}; "
                                   "one line pays one customer's invoices")
        value = _amount(amount, line.currency)
        if not 0 < value <= min(found.amount_due, line.amount):
            raise QueueActionError(f"the amount for {found.number} must be above 0 and at most "
                                   f"{min(found.amount_due, line.amount)}")
        chosen.append((found, value))
    if not chosen:
        raise QueueActionError("pick at least one open invoice")
    total = sum((value for _, value in chosen), Decimal("0"))
    if total > line.amount:
        raise QueueActionError(f"the amounts add up to {total}, more than the line's {line.amount}")
    return chosen


MAX_AMOUNT_DIGITS = 15  # digits before the point of an amount an admin may type (no bank line is larger)


def _amount(text: str, currency: str) -> Decimal:
    """An amount typed by an admin, in ``currency``'s own decimals (12.345 KWD, 1200 JPY, 12.34 EUR)."""
    try:
        value = Decimal(text.strip() or "x")
    except InvalidOperation:
        raise QueueActionError(f"{text!r} is not an amount") from None
    digits = minor_units(currency)
    if not value.is_finite() or value.adjusted() >= MAX_AMOUNT_DIGITS:
        # Also keeps quantize() below within the decimal context's precision (1e30 would raise there).
        raise QueueActionError(f"{text.strip()!r} is not an amount in {currency} ({digits} decimals)")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -digits and value != value.quantize(Decimal(1).scaleb(-digits)):
        raise QueueActionError(f"{text.strip()!r} is not an amount in {currency} ({digits} decimals)")
    return value.quantize(Decimal(1).scaleb(-digits))


def _invoice(session: Session, tenant: Tenant, ref: int | str) -> Invoice | None:
    if isinstance(ref, int):
        return get_for_tenant(session, Invoice, ref, tenant.id)
    return session.scalars(select(Invoice).where(Invoice.tenant_id == tenant.id, Invoice.number == ref.strip())
                           .order_by(Invoice.id.desc())).first()


def reject_match(session: Session, tenant: Tenant, line_id: int, *, user_id: int | None) -> Match:
    """Reject every suggestion: the line is ignored (nothing is posted)."""
    line, match = _open_match(session, tenant, line_id)
    before = {"status": match.status, "line_status": line.status}
    match.status, match.decided_by, line.status = "rejected", user_id, "ignored"
    session.add(AuditLog(tenant_id=tenant.id, actor=_actor(user_id), action="match.rejected",
                         object_type="bank_line", object_id=str(line.id), before=before,
                         after={"status": "rejected", "line_status": "ignored"}, reason=None))
    session.flush()
    return match


def post_confirmed(session: Session, tenant: Tenant, connector: AccountingConnector, match: Match, *,
                   user_id: int | None, now: datetime, checkpoint: Callable[[], None] | None = None) -> str:
    """Post an admin-confirmed match now: 'posted', 'already' or 'refused' (reason in the explanation).

    ``checkpoint`` (the request's commit) makes the confirmation and the attempt marker durable before
    the platform call, as in ``reconcile``.
    """
    if match.status != "confirmed":
        raise QueueActionError("only a confirmed match can be posted")
    try:
        return post_match(session, tenant, connector, match, actor=_actor(user_id), now=now,
                          checkpoint=checkpoint)
    except PostingRefusedError as exc:  # plan_of refusals are already handled inside post_match
        raise QueueActionError(str(exc)) from exc


def _decided(session: Session, tenant: Tenant, line: BankLine, match: Match, user_id: int | None,
             what: str) -> None:
    before = {"status": match.status, "decision": match.decision}
    match.status, match.decided_by = "confirmed", user_id
    session.add(AuditLog(tenant_id=tenant.id, actor=_actor(user_id), action="match.confirmed",
                         object_type="bank_line", object_id=str(line.id), before=before,
                         after={"status": "confirmed", "allocations": match.allocations}, reason=what))
    session.flush()


def _learn(session: Session, tenant: Tenant, line: BankLine, customer_remote_id: str | None) -> None:
    """Remember this payer's name and account as the customer's (the next payment auto-matches)."""
    customer = session.scalar(select(Customer).where(Customer.tenant_id == tenant.id,
                                                     Customer.remote_id == customer_remote_id))
    if customer is None:
        return
    aliases = []
    if line.counterparty_name:
        aliases.append((NAME_ALIAS + line.counterparty_name.strip())[:255])
    if line.counterparty_account:
        aliases.append((ACCOUNT_ALIAS + line.counterparty_account.strip())[:255])
    for alias in aliases:
        row = session.scalar(select(PayerAlias).where(PayerAlias.tenant_id == tenant.id, PayerAlias.alias == alias))
        if row is None:
            session.add(PayerAlias(tenant_id=tenant.id, alias=alias, customer_id=customer.id, confirmed=True))
        else:
            row.customer_id, row.confirmed = customer.id, True
    session.flush()


def _actor(user_id: int | None) -> str:
    return f"user:{user_id}" if user_id is not None else "system"


# --- read models for the page ---------------------------------------------------------------------
def exception_queue(session: Session, tenant: Tenant, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
    """Lines waiting for a human, oldest first (``BankLine.id`` breaks ties, so consecutive pages neither
    repeat nor skip a line), with their ranked suggestions and explanation."""
    rows = session.execute(_queue(tenant).order_by(BankLine.booking_date, BankLine.id)
                           .offset(offset).limit(limit)).all()
    return [_queue_entry(line, match) for line, match in rows]


def exception_queue_after(session: Session, tenant: Tenant, limit: int, after: tuple[date, int] | None
                          ) -> tuple[list[dict[str, Any]], tuple[date, int] | None]:
    """A keyset page of the queue: the ``limit`` lines after the line keyed ``after`` ((booking date, id);
    None: from the start), and the key of its last line when more follow (None: the queue ends here).

    Both keys are stored and never change for a line, so a line that waits throughout a walk is served
    exactly once however many lines are decided or imported meanwhile."""
    query = _queue(tenant)
    if after is not None:
        query = query.where(or_(BankLine.booking_date > after[0],
                                and_(BankLine.booking_date == after[0], BankLine.id > after[1])))
    rows = session.execute(query.order_by(BankLine.booking_date, BankLine.id).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    page = [_queue_entry(line, match) for line, match in rows]
    return page, ((rows[-1][0].booking_date, rows[-1][0].id) if more else None)


def _queue(tenant: Tenant) -> Select[BankLine, Match]:
    """The tenant's lines waiting for a human, with their match."""
    return (select(BankLine, Match).join(Match, Match.bank_line_id == BankLine.id)
            .where(BankLine.tenant_id == tenant.id, BankLine.status == "exception"))


def _queue_entry(line: BankLine, match: Match) -> dict[str, Any]:
    return {"line": line, "match": match, "suggestions": match.suggestions[:3]}


def exception_count(session: Session, tenant: Tenant) -> int:
    """How many lines wait for a human in all (for the queue's paging)."""
    return session.scalar(select(func.count()).select_from(_queue(tenant).subquery())) or 0


def recent_statements(session: Session, tenant: Tenant, limit: int = 20) -> list[dict[str, Any]]:
    """The latest imported statements with their line counts per status."""
    statements = session.scalars(select(BankStatement).where(BankStatement.tenant_id == tenant.id)
                                 .order_by(BankStatement.id.desc()).limit(limit)).all()
    counts: dict[int, dict[str, int]] = {s.id: {} for s in statements}
    if statements:
        for sid, status, n in session.execute(
                select(BankLine.statement_id, BankLine.status, func.count())
                .where(BankLine.tenant_id == tenant.id, BankLine.statement_id.in_(list(counts)))
                .group_by(BankLine.statement_id, BankLine.status)):
            counts[sid][status] = n
    return [{"statement": s, "counts": counts[s.id]} for s in statements]


def find_open_invoices(session: Session, tenant: Tenant, text: str = "", currency: str | None = None,
                       limit: int = 20) -> list[dict[str, Any]]:
    """Open invoices an admin can apply a line to whose number or customer name contains ``text`` (any
    case; ``%`` and ``_`` are plain characters), in ``currency`` if given: an exact number first, then the
    oldest due. At most ``limit``: the page asks again as the admin types, so a tenant with 20,000 open
    invoices never sends them all."""
    wanted = text.strip()
    query = (select(Invoice.id, Invoice.number, Invoice.amount_due, Invoice.currency, Invoice.due_date,
                    Customer.name)
             .join(Customer, Customer.id == Invoice.customer_id)  # no customer: cannot be applied to
             .where(Invoice.tenant_id == tenant.id, Invoice.status == "open", Invoice.amount_due > 0))
    if wanted:
        query = query.where(or_(Invoice.number.icontains(wanted, autoescape=True),
                                Customer.name.icontains(wanted, autoescape=True)))
    if currency:
        query = query.where(Invoice.currency == currency)
    exact = case((func.lower(Invoice.number) == wanted.lower(), 0), else_=1)
    rows = session.execute(query.order_by(exact, Invoice.due_date, Invoice.id).limit(limit)).all()
    return [{"invoice_id": r.id, "number": r.number, "customer": r.name, "amount_due": str(r.amount_due),
             "currency": r.currency, "due_date": r.due_date.isoformat()} for r in rows]
