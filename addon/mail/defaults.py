"""The shipped reminder templates (English), one per stage of the default policy, and the lookup that
falls back from a tenant's own per-language templates to these."""

from __future__ import annotations

from collections.abc import Mapping

from addon.mail.templates import TemplateSource

_LIST = """{% for inv in invoices %}
  - {{ inv.number }}: {{ inv.amount_due|money(inv.currency) }}, due {{ inv.due_date }}\
{% if inv.days_overdue > 0 %} ({{ inv.days_overdue }} days overdue){% endif %}\
{% if inv.payment_url %}
    Pay online: {{ inv.payment_url }}{% endif %}
{% endfor %}"""

_STATUTORY = """{% for inv in invoices %}{% if inv.statutory %}
{{ inv.number }}: under the {{ inv.statutory.legal_basis }} we are entitled to interest at \
{{ inv.statutory.annual_rate }}% a year ({{ inv.statutory.interest|money(inv.currency) }} so far)\
{% if inv.statutory.compensation %} and fixed compensation of \
{{ inv.statutory.compensation|money(inv.statutory.compensation_currency) }}{% endif %}.
{% endif %}{% endfor %}"""

_SIGN = """
Kind regards,
{{ company.name }}{% if company.email %}
{{ company.email }}{% endif %}
"""

_RELIABLE = """{% if reliable_payer %}You have always paid us on time, so this may simply have slipped \
through. {% endif %}"""

DEFAULT_TEMPLATES: dict[str, TemplateSource] = {
    "pre_due": TemplateSource(
        "Upcoming payment to {{ company.name }}",
        "Hello {{ customer.name }},\n\nA friendly heads-up that the following will be due soon:\n" + _LIST
        + "\nIf you have already arranged payment, thank you and please ignore this message.\n" + _SIGN),
    "due": TemplateSource(
        "Payment due today: {{ company.name }}",
        "Hello {{ customer.name }},\n\n" + _RELIABLE + "The following is due for payment:\n" + _LIST
        + "\nThank you for your prompt payment.\n" + _SIGN),
    "overdue_7": TemplateSource(
        "Reminder: overdue payment to {{ company.name }}",
        "Hello {{ customer.name }},\n\n" + _RELIABLE + "Our records show the following is now overdue:\n"
        + _LIST + "\nPlease arrange payment, or reply to this email if there is a problem.\n" + _SIGN),
    "overdue_14": TemplateSource(
        "Second reminder: overdue payment to {{ company.name }}",
        "Hello {{ customer.name }},\n\nWe have not yet received payment for:\n" + _LIST
        + "\nPlease settle this now, or reply to tell us when we can expect payment.\n" + _SIGN),
    "overdue_30": TemplateSource(
        "Urgent: payment more than 30 days overdue",
        "Hello {{ customer.name }},\n\nThe following remains unpaid despite earlier reminders:\n" + _LIST
        + "\nPlease pay within 7 days. If you dispute any amount, reply to this email today.\n" + _SIGN),
    "final": TemplateSource(
        "Final notice before further action: {{ company.name }}",
        "Hello {{ customer.name }},\n\nThis is our final notice about:\n" + _LIST + _STATUTORY
        + "\nUnless we receive payment within 7 days we will take further steps to recover the debt.\n"
        + _SIGN),
}
_BY_TONE = {"friendly": "due", "firm": "overdue_7", "urgent": "overdue_30", "final": "final"}


def pick_template(key: str, language: str, tone: str,
                  custom: Mapping[tuple[str, str], TemplateSource] | None = None) -> TemplateSource:
    """The tenant's template for (key, language), else its English one, else the shipped default for
    the key, else the shipped default for the tone."""
    custom = custom or {}
    for candidate in ((key, language), (key, "en")):
        if candidate in custom:
            return custom[candidate]
    return DEFAULT_TEMPLATES.get(key) or DEFAULT_TEMPLATES[_BY_TONE.get(tone, "overdue_7")]
