"""Dry run and wording: "who gets what tomorrow", JSON for the CLI/settings page, and ERP note text."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from addon.domain.dunning.model import DunningCustomer, DunningInvoice, DunningSettings, ReminderAction, SentStage
from addon.domain.dunning.planner import plan_reminders
from addon.domain.dunning.policy import Channel, Policy, PolicySet


def preview_day(invoices: Iterable[DunningInvoice], customers: Iterable[DunningCustomer],
                policy: Policy | PolicySet, history: Iterable[SentStage], day: date,
                settings: DunningSettings | None = None, *, run_at: time = time(6, 0),
                suppressed: Collection[str] = ()) -> list[ReminderAction]:
    """What the scheduled run on ``day`` (at ``run_at`` tenant time) would plan; nothing is sent."""
    settings = settings or DunningSettings()
    now = datetime.combine(day, run_at, tzinfo=ZoneInfo(settings.timezone)).astimezone(UTC)
    return plan_reminders(invoices, customers, policy, history, now, settings, suppressed=suppressed)


def action_as_json(action: ReminderAction) -> dict[str, Any]:
    """A JSON-ready dict (invoice ids, stage, tone, channel, send time, reason, ...) for previews."""
    return {
        "customer_id": action.customer_id,
        "invoice_ids": list(action.invoice_ids),
        "stage": action.stage_key,
        "tone": str(action.tone),
        "channel": str(action.channel),
        "send_at": action.send_at.isoformat(),
        "reason": action.reason,
        "needs_approval": action.needs_approval,
        "recipients": list(action.recipients),
        "exactly_once_keys": list(action.exactly_once_keys),
        "lines": [
            {"invoice_id": ln.invoice_id, "number": ln.number, "stage": ln.stage_key, "tone": str(ln.tone),
             "amount_due": str(ln.amount_due), "currency": ln.currency, "due_date": ln.due_date.isoformat(),
             "days_overdue": ln.days_overdue, "reason": ln.reason}
            for ln in action.lines
        ],
    }


def reminder_notes(action: ReminderAction, policy: Policy) -> dict[str, str]:
    """The note to write on each invoice in the ERP, e.g. "Reminder 2 (firm) sent to ap@acme.example"."""
    outcome = reminder_outcome(action.channel, ", ".join(action.recipients))
    return {line.invoice_id: reminder_note(policy, line.stage_key, line.tone, outcome) for line in action.lines}


def reminder_outcome(channel: Channel, recipients: str) -> str:
    """What happened to a reminder, as its ERP note says it."""
    if channel is Channel.EMAIL:
        return f"sent to {recipients}"
    if channel is Channel.SMS:
        return "sent by SMS"
    return "put on the collections worklist (call or letter)"


def reminder_note(policy: Policy, stage_key: str, tone: object, outcome: str) -> str:
    """One invoice's note: the stage's number in the policy (or its key), its tone, and the outcome."""
    number = next((i for i, stage in enumerate(policy.stages, start=1) if stage.key == stage_key), None)
    label = f"Reminder {number}" if number is not None else f"Reminder '{stage_key}'"
    return f"{label} ({tone}) {outcome}"
