"""``plan_reminders``: who gets which reminder in this run, consolidated per customer, with reasons."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from addon.domain.dunning.adapt import EffectiveStage, Schedule, adapt_schedule
from addon.domain.dunning.model import (
    ActionLine,
    DunningCustomer,
    DunningInvoice,
    DunningPlan,
    DunningSettings,
    ReminderAction,
    SentStage,
    Skip,
    exactly_once_key,
)
from addon.domain.dunning.policy import TONE_ORDER, Channel, Policy, PolicySet, RiskBand
from addon.domain.dunning.statutory import MissingReferenceRateError, StatutoryClaim, statutory_claim
from addon.domain.dunning.stops import stop_reason
from addon.domain.dunning.timing import customer_zone, plan_send_time


@dataclass(frozen=True, slots=True)
class _Due:
    invoice: DunningInvoice
    stage: EffectiveStage
    line: ActionLine
    reliable: bool


def plan_reminders(invoices: Iterable[DunningInvoice], customers: Iterable[DunningCustomer],
                   policy: Policy | PolicySet, history: Iterable[SentStage], now: datetime,
                   settings: DunningSettings | None = None, *,
                   suppressed: Collection[str] = ()) -> list[ReminderAction]:
    """The reminders to send in a run at ``now`` (UTC-aware); see ``plan_run`` for the skips too."""
    return list(plan_run(invoices, customers, policy, history, now, settings, suppressed=suppressed).actions)


def plan_run(invoices: Iterable[DunningInvoice], customers: Iterable[DunningCustomer],
             policy: Policy | PolicySet, history: Iterable[SentStage], now: datetime,
             settings: DunningSettings | None = None, *, suppressed: Collection[str] = ()) -> DunningPlan:
    """Plan a run: at most one consolidated reminder per customer, never a stage twice per invoice.

    Args:
        history: every (invoice, stage) already sent or claimed; those stages never fire again.
        suppressed: email addresses on the suppression list (hard bounces, unsubscribes).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    settings = settings or DunningSettings()
    if not settings.enabled:
        return DunningPlan(actions=())
    policies = policy if isinstance(policy, PolicySet) else PolicySet(default=policy)
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    by_customer = {c.customer_id: c for c in customers}
    sent: dict[str, set[str]] = defaultdict(set)
    for row in history:
        sent[row.invoice_id].add(row.stage_key)
    schedules: dict[tuple[int, RiskBand | None, bool], Schedule] = {}
    due: dict[str, list[_Due]] = defaultdict(list)
    skipped: list[Skip] = []
    for invoice in invoices:
        customer = by_customer.get(invoice.customer_id)
        reason = "unknown customer" if customer is None else stop_reason(invoice, today)
        if reason is not None or customer is None:
            skipped.append(Skip(invoice.invoice_id, invoice.customer_id, reason or "unknown customer"))
            continue
        if customer.hold is not None and customer.hold.applies(today):
            # No email, SMS or task while a controller holds the customer: they are already handling it.
            skipped.append(Skip(invoice.invoice_id, invoice.customer_id, customer.hold.note))
            continue
        chosen = policies.for_customer(customer.customer_id, customer.segment)
        if not chosen.enabled:
            continue
        key = (id(chosen), invoice.risk_band, customer.reliable)
        schedule = schedules.get(key)
        if schedule is None:
            schedule = schedules[key] = adapt_schedule(chosen, invoice.risk_band, customer.reliable)
        item = _due_stage(invoice, schedule, sent.get(invoice.invoice_id, set()), today, settings)
        if item is not None:
            due[customer.customer_id].append(item)
    blocked = frozenset(a.strip().lower() for a in suppressed)
    actions = [_consolidate(by_customer[cid], items, now, settings, blocked) for cid, items in due.items()]
    actions.sort(key=lambda a: (a.send_at, a.customer_id))
    return DunningPlan(actions=tuple(actions), skipped=tuple(skipped))


def _due_stage(invoice: DunningInvoice, schedule: Schedule, sent: set[str], today: date,
               settings: DunningSettings) -> _Due | None:
    """The latest stage that is due and not yet sent, after the last one that was sent."""
    days = (today - invoice.due_date).days
    chosen: int | None = None
    missed: list[str] = []
    for i in range(schedule.next_index(sent), len(schedule.stages)):
        eff = schedule.stages[i]
        if eff.offset_days > days:
            break
        if eff.stage.offset_days < 0 and days > 0:
            continue  # a "due soon" heads-up makes no sense once the invoice is overdue
        if not eff.stage.conditions.allows(invoice.amount_due, invoice.risk_band):
            continue
        if chosen is not None:
            missed.append(schedule.stages[chosen].stage.key)
        chosen = i
    if chosen is None:
        return None
    eff = schedule.stages[chosen]
    parts = [f"{invoice.number}: stage {eff.stage.key} ({eff.offset_days:+d} days, {eff.tone}), "
             f"{_overdue_text(days)}", schedule.note]
    parts += [p for p in (eff.note,) if p]
    if missed:
        parts.append(f"catch-up: {', '.join(missed)} not sent in time, superseded")
    claim = None
    if settings.statutory_pack and eff.stage.show_statutory:
        claim, note = _claim(invoice, today, settings)
        parts += [note] if note else []
    line = ActionLine(invoice.invoice_id, invoice.number, eff.stage.key, eff.tone, invoice.amount_due,
                      invoice.currency, invoice.due_date, days, invoice.payment_url, "; ".join(parts), claim)
    return _Due(invoice, eff, line, schedule.reliable)


def _overdue_text(days: int) -> str:
    if days > 0:
        return f"{days} days overdue"
    return "due today" if days == 0 else f"due in {-days} days"


def _claim(invoice: DunningInvoice, today: date,
           settings: DunningSettings) -> tuple[StatutoryClaim | None, str]:
    pack = settings.statutory_pack or ""
    try:
        claim = statutory_claim(pack, invoice.amount_due, invoice.currency, invoice.due_date, today,
                                settings.reference_rates)
    except MissingReferenceRateError as exc:
        return None, f"statutory {pack} pack not shown: {exc}"
    return claim, f"statutory {pack} pack shown" if claim else ""


def _consolidate(customer: DunningCustomer, items: Sequence[_Due], now: datetime,
                 settings: DunningSettings, suppressed: frozenset[str]) -> ReminderAction:
    items = sorted(items, key=lambda d: (d.invoice.due_date, d.invoice.number))
    lead = max(items, key=lambda d: (TONE_ORDER[d.stage.tone], d.line.days_overdue))
    candidates = _recipients(customer, items)
    recipients = tuple(r for r in candidates if r.lower() not in suppressed)
    channel, channel_note = _channel(lead.stage.stage.channel, customer, recipients, candidates, settings,
                                   suppressed)
    if len(recipients) < len(candidates):
        dropped = ", ".join(r for r in candidates if r not in recipients)
        channel_note = "; ".join(n for n in (channel_note, f"suppressed address(es) left out: {dropped}") if n)
    zone, zone_note = customer_zone(customer.timezone, settings)
    timing: list[str] = []
    if channel is Channel.TASK:
        send_at = now  # worklist tasks are for people; they appear at once
    else:
        send_at, timing = plan_send_time(now, zone, with_customer_holidays(settings, customer), customer.send_slot,
                                         customer.last_reminders)
    head = (f"{len(items)} invoice(s) consolidated; lead stage {lead.stage.stage.key} "
            f"({lead.stage.tone}) via {channel}")
    reason = "; ".join(p for p in (head, channel_note, zone_note, *timing) if p)
    return ReminderAction(
        customer_id=customer.customer_id, channel=channel, stage_key=lead.stage.stage.key,
        tone=lead.stage.tone, template=lead.stage.stage.template_key, language=customer.language,
        send_at=send_at, recipients=_addressed(channel, recipients, customer),
        lines=tuple(d.line for d in items), reason=reason,
        needs_approval=any(d.stage.stage.needs_approval for d in items),
        exactly_once_keys=tuple(exactly_once_key(d.invoice.invoice_id, d.stage.stage.key) for d in items),
        reliable_payer=all(d.reliable for d in items),
    )


def with_customer_holidays(settings: DunningSettings, customer: DunningCustomer) -> DunningSettings:
    """The settings whose holidays are the organisation's and the customer's country's: a reminder lands on
    neither. The customer's are named with their country ("Tag der Deutschen Einheit (DE, the customer's
    country)"); on a day that is both, the organisation's name is given."""
    theirs = customer.holidays
    if theirs is None:
        return settings
    ours, where = settings.holidays, f"{customer.country or 'unknown'}, the customer's country"

    def either(day: date) -> str | None:
        name = ours(day) if ours is not None else None
        if name is not None:
            return name
        other = theirs(day)
        return f"{other} ({where})" if other is not None else None

    return replace(settings, holidays=either)


def _recipients(customer: DunningCustomer, items: Sequence[_Due]) -> tuple[str, ...]:
    """Billing contacts named on the invoices first; the contact record's addresses otherwise."""
    named = [d.invoice.billing_email.strip() for d in items if d.invoice.billing_email]
    pool = named or [e.strip() for e in customer.emails]
    return tuple(dict.fromkeys(e for e in pool if "@" in e))


def _addressed(channel: Channel, recipients: tuple[str, ...], customer: DunningCustomer) -> tuple[str, ...]:
    """Who the action goes to: the e-mail addresses, the one mobile number for an SMS, nobody for a task."""
    if channel is Channel.EMAIL:
        return recipients
    if channel is Channel.SMS and customer.phone:
        return (customer.phone,)
    return ()


def _channel(wanted: Channel, customer: DunningCustomer, recipients: tuple[str, ...], candidates: tuple[str, ...],
             settings: DunningSettings, suppressed: frozenset[str]) -> tuple[Channel, str]:
    """The channel actually used, and why it differs from the stage's (no address, every address suppressed).

    A customer who unsubscribed has every address on the suppression list (``unsubscribe`` puts them all
    there): that is how an opt-out reaches the planner, so it needs no flag of its own."""
    note = ""
    if wanted is Channel.SMS:
        sms_note = _sms_refusal(customer, settings, suppressed)
        if not sms_note:
            return Channel.SMS, ""
        wanted, note = Channel.EMAIL, f"{sms_note}: email instead"
    if wanted is Channel.EMAIL and not recipients:
        return Channel.TASK, f"no usable email address ({_why_none(candidates)}): worklist task instead"
    return wanted, note


def _why_none(candidates: tuple[str, ...]) -> str:
    if candidates:
        return "every one is on the suppression list: unsubscribed or bounced"
    return "none on record"


def _sms_refusal(customer: DunningCustomer, settings: DunningSettings, suppressed: frozenset[str]) -> str:
    """Why an SMS stage cannot text this customer ("" when it can). A number on the suppression list replied
    STOP to our texts, or the provider called it invalid: like an unsubscribed address, never texted again."""
    if not settings.sms_enabled:
        return "SMS off (no SMS_PROVIDER)"
    if not customer.phone:
        return "no mobile number"
    if customer.phone.lower() in suppressed:
        return f"{customer.phone} opted out of texts (STOP) or was refused as invalid"
    return ""
