"""Turn a planned ReminderAction into an email: template context, rendering and headers."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from addon.domain.dunning import ReminderAction
from addon.mail.defaults import pick_template
from addon.mail.settings import MailSettings
from addon.mail.templates import STATUTORY_FIELDS, RenderedEmail, TemplateSource, money, render


@dataclass(frozen=True, slots=True)
class Company:
    """The tenant as its customers know it (signature, From display name)."""

    name: str
    email: str | None = None


def reminder_context(action: ReminderAction, *, customer_name: str, company: Company,
                     unsubscribe_url: str, today: date) -> dict[str, Any]:
    """The variables a reminder template sees (documented in docs/dunning.md)."""
    invoices = [
        {"number": ln.number, "amount_due": ln.amount_due, "currency": ln.currency, "due_date": ln.due_date,
         "days_overdue": ln.days_overdue, "payment_url": ln.payment_url, "stage": ln.stage_key,
         "tone": str(ln.tone), "statutory": _claim(ln.statutory)}
        for ln in action.lines
    ]
    links = payment_links(action)
    return {
        "customer": {"name": customer_name}, "company": {"name": company.name, "email": company.email},
        "invoices": invoices, "totals": [{"currency": c, "amount": a} for c, a in totals(action)],
        "stage": {"key": action.stage_key, "tone": str(action.tone)},
        "reliable_payer": action.reliable_payer, "payment_url": links[0] if len(links) == 1 else None,
        "unsubscribe_url": unsubscribe_url, "today": today,
    }


def _claim(claim: object) -> dict[str, Any] | None:
    if claim is None:
        return None
    return {name: getattr(claim, name) for name in STATUTORY_FIELDS}


def totals(action: ReminderAction) -> list[tuple[str, Decimal]]:
    """The amount due per currency, by currency code (the e-mail's totals and the SMS's amounts)."""
    totals: dict[str, Decimal] = {}
    for ln in action.lines:
        totals[ln.currency] = totals.get(ln.currency, Decimal("0")) + ln.amount_due
    return sorted(totals.items())


def payment_links(action: ReminderAction) -> list[str]:
    """The lines' payment links, in line order (the e-mail shows one only when there is exactly one, the
    SMS the first)."""
    return [ln.payment_url for ln in action.lines if ln.payment_url]


def message_id_for(action_key: str, domain: str) -> str:
    """A Message-ID derived from the action, so a retried or re-run send carries the same id."""
    digest = hashlib.sha256(action_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def build_message(rendered: RenderedEmail, *, settings: MailSettings, company: Company,
                  to: tuple[str, ...], tenant_key: str, message_id: str, unsubscribe_url: str,
                  sent_at: datetime, action_key: str = "") -> EmailMessage:
    """A plain-text reminder with Message-ID, Reply-To, List-Unsubscribe and an unsubscribe footer."""
    if not to:
        raise ValueError("a reminder needs at least one recipient")
    msg = EmailMessage()
    msg["From"] = f"{company.name} <{settings.sender_address}>" if company.name else settings.mail_from
    msg["To"] = ", ".join(to)
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(sent_at)
    msg["Message-ID"] = message_id
    reply_to = settings.reply_to(tenant_key)
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders should not answer
    if action_key:
        msg["X-Cashline-Action"] = action_key
    body = rendered.body
    if unsubscribe_url not in body:
        body = body.rstrip("\n") + f"\n\n--\nTo stop payment reminders by email: {unsubscribe_url}\n"
    msg.set_content(body)
    return msg


def compose_reminder(action: ReminderAction, *, settings: MailSettings, company: Company,
                     customer_name: str, tenant_key: str, unsubscribe_url: str, sent_at: datetime,
                     templates: Mapping[tuple[str, str], TemplateSource] | None = None) -> EmailMessage:
    """Render the action's template in the customer's language and wrap it in a ready-to-send message."""
    source = pick_template(action.template, action.language, str(action.tone), templates)
    context = reminder_context(action, customer_name=customer_name, company=company,
                               unsubscribe_url=unsubscribe_url, today=sent_at.date())
    return build_message(render(source, context), settings=settings, company=company,
                         to=action.recipients, tenant_key=tenant_key,
                         message_id=message_id_for(action.action_key, settings.sender_domain),
                         unsubscribe_url=unsubscribe_url, sent_at=sent_at, action_key=action.action_key)


def sms_text(action: ReminderAction, company: Company, *, limit: int = 320) -> str:
    """A short SMS for an action: who, how many invoices, total per currency, and one payment link."""
    amounts = " + ".join(money(a, c) for c, a in totals(action))
    count = len(action.lines)
    text = f"{company.name}: {count} invoice{'s' if count != 1 else ''} ({amounts}) "
    text += "overdue." if any(ln.days_overdue > 0 for ln in action.lines) else "due."
    links = payment_links(action)
    if links:
        text += f" Pay: {links[0]}"
    return text[:limit]
