"""The SMS text: the stage template's subject rendered in the sandbox, the facts, the opt-out, <= 3 segments."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError, TemplateError

from addon.domain.sms_segments import segments
from addon.mail import Company, TemplateSource
from addon.mail.sms_compose import MAX_SEGMENTS, OPT_OUT, compose_sms
from tests.mail.test_mail_compose import NOW, action, invoice


def _templates(subject: str, planned) -> dict[tuple[str, str], TemplateSource]:  # type: ignore[no-untyped-def]
    return {(planned.template, "en"): TemplateSource(subject, "body")}


def test_subject_rendered_with_the_reminder_variables() -> None:
    planned = action(invoice(1, 8, "120.50", url="https://pay.example/1"), invoice(2, 9, "80", currency="EUR"))
    text = compose_sms(planned, company=Company("Supplies Ltd"), customer_name="Acme", unsubscribe_url="u",
                       today=NOW.date(), templates=_templates("{{ customer.name }}: {{ invoices|length }} overdue",
                                                              planned))
    assert text == f"Supplies Ltd: Acme: 2 overdue. Due: €80.00 + £120.50. Pay: https://pay.example/1 {OPT_OUT}"


def test_a_long_subject_is_shortened_and_the_facts_kept() -> None:
    planned = action(invoice(1, 8, "120.50", url="https://pay.example/" + "x" * 60))
    text = compose_sms(planned, company=Company("Supplies Ltd"), customer_name="Acme", unsubscribe_url="u",
                       today=NOW.date(), templates=_templates("Supplies Ltd " + "very late " * 100, planned))
    assert segments(text) == MAX_SEGMENTS
    assert "... Due: £120.50. Pay: https://pay.example/" + "x" * 60 + f" {OPT_OUT}" in text


def test_the_sandbox_still_applies() -> None:
    planned = action(invoice(1, 8, "10"))
    with pytest.raises(SecurityError):
        compose_sms(planned, company=Company("S"), customer_name="A", unsubscribe_url="u", today=NOW.date(),
                    templates=_templates("{{ customer.__class__.__mro__ }}", planned))
    with pytest.raises(TemplateError):  # strict: an unknown name is an error, not an empty string
        compose_sms(planned, company=Company("S"), customer_name="A", unsubscribe_url="u", today=NOW.date(),
                    templates=_templates("{{ nobody }}", planned))
