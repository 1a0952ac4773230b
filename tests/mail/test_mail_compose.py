"""Composing a reminder from a planned action: context, headers, unsubscribe tokens; SMS providers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from addon.domain.dunning import DunningCustomer, DunningInvoice, default_policy, plan_reminders
from addon.mail import (
    Company,
    DisabledSmsProvider,
    InvalidUnsubscribeTokenError,
    MailSettings,
    MemorySmsProvider,
    TemplateSource,
    UnsubscribeTokens,
    compose_reminder,
    message_id_for,
    reminder_context,
    sms_provider_from_config,
)
from addon.mail.sms import SmsDisabledError

NOW = datetime(2026, 11, 18, 6, tzinfo=UTC)
MAIL = MailSettings(mail_from="AR <ar@supplier.example>", inbound_reply_domain="in.cashline.example")


def action(*invoices: DunningInvoice, emails: tuple[str, ...] = ("ap@acme.example",)):
    [planned] = plan_reminders(invoices, [DunningCustomer("C1", "Acme", emails)], default_policy(), [], NOW)
    return planned


def invoice(n: int, days: int, amount: str, currency: str = "GBP", url: str | None = None) -> DunningInvoice:
    due = date(2026, 11, 18) - timedelta(days=days)
    return DunningInvoice(f"I{n}", f"INV-{n}", "C1", currency, Decimal(amount), due, due, payment_url=url)


def test_context_lists_invoices_and_totals_per_currency():
    planned = action(invoice(1, 8, "100.10"), invoice(2, 9, "50.00"), invoice(3, 8, "20.00", "EUR"))
    ctx = reminder_context(planned, customer_name="Acme", company=Company("Supplier"),
                           unsubscribe_url="https://u", today=date(2026, 11, 18))
    assert [i["number"] for i in ctx["invoices"]] == ["INV-2", "INV-1", "INV-3"]
    assert ctx["totals"] == [{"currency": "EUR", "amount": Decimal("20.00")},
                             {"currency": "GBP", "amount": Decimal("150.10")}]
    assert ctx["stage"] == {"key": "overdue_7", "tone": "firm"}
    assert ctx["payment_url"] is None  # only set when there is exactly one link


def test_composed_message_headers_and_footer():
    planned = action(invoice(1, 8, "100.00", url="https://in.xero.com/x1"))
    msg = compose_reminder(planned, settings=MAIL, company=Company("Supplier Ltd"), customer_name="Acme",
                           tenant_key="t9", unsubscribe_url="https://app.example/unsubscribe/tok", sent_at=NOW)
    assert msg["To"] == "ap@acme.example"
    assert msg["From"] == "Supplier Ltd <ar@supplier.example>"
    assert msg["Reply-To"] == "reply+t9@in.cashline.example"
    assert msg["List-Unsubscribe"] == "<https://app.example/unsubscribe/tok>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"] == message_id_for(planned.action_key, "supplier.example")
    body = msg.get_content()
    assert "INV-1" in body
    assert "£100.00" in body
    assert "https://in.xero.com/x1" in body
    assert body.rstrip().endswith("https://app.example/unsubscribe/tok")


def test_tenant_template_in_customer_language_is_used():
    planned = action(invoice(1, 8, "100.00"))
    custom = {("overdue_7", "en"): TemplateSource("Pay {{ customer.name }}",
                                                   "Total {% for t in totals %}{{ t.amount|money(t.currency) }}"
                                                   "{% endfor %} {{ unsubscribe_url }}")}
    msg = compose_reminder(planned, settings=MAIL, company=Company("S"), customer_name="Acme", tenant_key="t",
                           unsubscribe_url="https://u/x", sent_at=NOW, templates=custom)
    assert msg["Subject"] == "Pay Acme"
    assert msg.get_content() == "Total £100.00 https://u/x\n"  # link already present: no footer added


def test_message_id_is_stable_per_action():
    assert message_id_for("C1/email/I1:due", "x.example") == message_id_for("C1/email/I1:due", "x.example")
    assert message_id_for("C1/email/I1:due", "x.example") != message_id_for("C1/email/I1:overdue_7", "x.example")


def test_unsubscribe_tokens_round_trip_and_reject_tampering():
    tokens = UnsubscribeTokens("secret")
    token = tokens.make("t1", "C42")
    assert tokens.read(token) == ("t1", "C42")
    with pytest.raises(InvalidUnsubscribeTokenError):
        UnsubscribeTokens("other").read(token)
    with pytest.raises(InvalidUnsubscribeTokenError):
        tokens.read(token[:-2] + "xx")
    assert tokens.url("https://app.example/", "t1", "C42") == f"https://app.example/unsubscribe/{token}"


def test_sms_is_off_by_default():
    provider = sms_provider_from_config({})
    assert isinstance(provider, DisabledSmsProvider)
    with pytest.raises(SmsDisabledError):
        provider.send("+447700900123", "hi", idempotency_key="k")


def test_memory_sms_provider_sends_once_per_key():
    provider = sms_provider_from_config({"SMS_PROVIDER": "memory"})
    assert isinstance(provider, MemorySmsProvider)
    provider.send("+1", "first", idempotency_key="I1:final")
    provider.send("+1", "again", idempotency_key="I1:final")
    assert provider.sent == {"I1:final": ("+1", "first")}
    with pytest.raises(ValueError, match="unknown SMS_PROVIDER"):
        sms_provider_from_config({"SMS_PROVIDER": "carrier-pigeon"})


def test_sms_text_is_short_and_carries_total_and_link():
    from addon.mail import sms_text

    planned = action(invoice(1, 8, "100.00", url="https://in.xero.com/x1"), invoice(2, 9, "50.50"))
    text = sms_text(planned, Company("Supplier Ltd"))
    assert text == "Supplier Ltd: 2 invoices (£150.50) overdue. Pay: https://in.xero.com/x1"
