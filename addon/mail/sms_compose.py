"""The text of an SMS reminder: the stage template's subject line, rendered in the same sandboxed
environment as the e-mail, then the amounts, one payment link and the opt-out, in at most MAX_SEGMENTS.

Only the subject is texted: the e-mail body is written for a page (greeting, invoice list, signature) and
would run to a dozen segments. The facts that must survive (amounts, link, opt-out) are never cut; the
subject is shortened instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from addon.domain.dunning import ReminderAction
from addon.domain.sms_segments import fit, segments
from addon.mail.compose import Company, payment_links, reminder_context, totals
from addon.mail.defaults import pick_template
from addon.mail.templates import TemplateSource, money, render

MAX_SEGMENTS = 3
OPT_OUT = "Reply STOP to opt out."


def compose_sms(action: ReminderAction, *, company: Company, customer_name: str, unsubscribe_url: str,
                today: date, templates: Mapping[tuple[str, str], TemplateSource] | None = None) -> str:
    """The SMS for ``action``; raises jinja2's TemplateError like the e-mail when the template is broken."""
    source = pick_template(action.template, action.language, str(action.tone), templates)
    context = reminder_context(action, customer_name=customer_name, company=company,
                               unsubscribe_url=unsubscribe_url, today=today)
    subject = render(TemplateSource(source.subject, ""), context).subject
    lead = subject if company.name.lower() in subject.lower() else f"{company.name}: {subject}"
    lead = lead if not lead or lead[-1] in ".!?" else f"{lead}."  # a subject line has no full stop
    amounts = " + ".join(money(a, c) for c, a in totals(action))
    links = payment_links(action)
    facts = f"Due: {amounts}." + (f" Pay: {links[0]}" if links else "")

    def text(head: str) -> str:
        return " ".join(p for p in (head, facts, OPT_OUT) if p)

    if segments(text(lead)) > MAX_SEGMENTS:
        while lead and segments(text(lead + "...")) > MAX_SEGMENTS:
            lead = lead[:-1]
        lead = (lead.rstrip() + "...") if lead else ""
    return fit(text(lead), MAX_SEGMENTS)  # a payment link longer than the segments allow is cut too
