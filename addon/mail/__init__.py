"""Outgoing reminders: template validation and rendering, SMTP sending, bounces, SMS providers."""

from __future__ import annotations

from addon.mail.bounces import BounceKind, BounceReport, classify_bounce, parse_dsn
from addon.mail.compose import (
    Company,
    build_message,
    compose_reminder,
    message_id_for,
    reminder_context,
    sms_text,
)
from addon.mail.defaults import DEFAULT_TEMPLATES, pick_template
from addon.mail.settings import MailConfigError, MailSettings
from addon.mail.sms import DisabledSmsProvider, MemorySmsProvider, SmsProvider, sms_provider_from_config
from addon.mail.smtp import (
    MailAuthError,
    MailDeferredError,
    MailError,
    MailRejectedError,
    MailUnavailableError,
    SendResult,
    SmtpSender,
)
from addon.mail.templates import (
    VARIABLES,
    RenderedEmail,
    TemplateProblem,
    TemplateRejectedError,
    TemplateSource,
    ensure_valid,
    render,
    sample_context,
    validate_template,
)
from addon.mail.unsubscribe import InvalidUnsubscribeTokenError, UnsubscribeTokens

__all__ = [
    "DEFAULT_TEMPLATES", "VARIABLES", "BounceKind", "BounceReport", "Company", "DisabledSmsProvider",
    "InvalidUnsubscribeTokenError", "MailAuthError", "MailConfigError", "MailDeferredError", "MailError",
    "MailRejectedError", "MailSettings", "MailUnavailableError", "MemorySmsProvider", "RenderedEmail", "SendResult",
    "SmsProvider", "SmtpSender", "TemplateProblem", "TemplateRejectedError", "TemplateSource",
    "UnsubscribeTokens", "build_message", "classify_bounce", "compose_reminder", "ensure_valid",
    "message_id_for", "parse_dsn", "pick_template", "reminder_context", "render", "sample_context",
    "sms_provider_from_config", "sms_text", "validate_template",
]
