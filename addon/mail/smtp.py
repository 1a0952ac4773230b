"""Send email over SMTP (smtplib): STARTTLS and credentials from MailSettings, retries with back-off
when the server is down or says "try later", and a result that lists only what the server accepted."""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses

from addon.mail.bounces import BounceKind, classify_bounce
from addon.mail.settings import MailSettings
from connectors.retry import add_jitter

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the server accepted. A recipient is "sent" only if it is in ``accepted``."""

    message_id: str
    accepted: tuple[str, ...]
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    bounces: dict[str, BounceKind] = field(default_factory=dict)
    attempts: int = 1

    @property
    def sent(self) -> bool:
        return bool(self.accepted)


class MailError(Exception):
    """Base class for send failures; nothing was accepted by the server."""


class MailUnavailableError(MailError):
    """The server was unreachable or kept answering 4xx through every retry: try the run again later."""


class MailDeferredError(MailUnavailableError):
    """The server answered but said "not now" for this message through every retry (4xx, or a 5xx that is
    not a hard bounce such as 552 mailbox full). Unlike an unreachable server this is about the message
    or its recipients, so the caller counts it against the reminder's own bounded retries."""


class MailRejectedError(MailError):
    """The server refused the message for good (5xx), per recipient where it said so."""

    def __init__(self, message: str, bounces: dict[str, BounceKind] | None = None) -> None:
        super().__init__(message)
        self.bounces = bounces or {}


class MailAuthError(MailError):
    """Credentials, TLS or another configuration problem: never retried."""


SmtpFactory = Callable[[str, int, float], smtplib.SMTP]


def _default_factory(host: str, port: int, timeout: float) -> smtplib.SMTP:
    return smtplib.SMTP(host, port, timeout=timeout)


class SmtpSender:
    """One SMTP connection per message: simple, and a crashed worker never leaves a half-open session."""

    def __init__(self, settings: MailSettings, *, ssl_context: ssl.SSLContext | None = None,
                 max_attempts: int = 4, base_delay: float = 2.0, max_delay: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep, factory: SmtpFactory = _default_factory) -> None:
        self.settings = settings
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.sleep = sleep
        self.factory = factory

    def send(self, message: EmailMessage) -> SendResult:
        """Deliver to the server, retrying temporary failures; raise MailError if nothing was accepted."""
        recipients = [addr for _, addr in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))]
        if not recipients:
            raise ValueError("message has no recipients")
        attempt = 1
        while True:
            try:
                result = self._send_once(message, recipients)
                return SendResult(result.message_id, result.accepted, result.refused, result.bounces, attempt)
            except _Retryable as exc:
                if attempt >= self.max_attempts:
                    if isinstance(exc, _Deferred):
                        raise MailDeferredError(f"SMTP deferred after {attempt} attempts: {exc}") from exc
                    raise MailUnavailableError(f"SMTP unavailable after {attempt} attempts: {exc}") from exc
                delay = self.backoff(attempt)
                logger.warning("SMTP attempt %d failed (%s); retrying in %.1fs", attempt, exc, delay)
                self.sleep(delay)
                attempt += 1

    def backoff(self, attempt: int) -> float:
        """Exponential back-off with jitter, capped at ``max_delay``."""
        return add_jitter(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))

    def _send_once(self, message: EmailMessage, recipients: list[str]) -> SendResult:
        try:
            with self.factory(self.settings.host, self.settings.port, self.settings.timeout) as smtp:
                self._open(smtp)
                refused = smtp.send_message(message, from_addr=self.settings.sender_address,
                                            to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            raise _all_refused(exc.recipients) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise MailAuthError(f"SMTP login refused: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPConnectError, smtplib.SMTPHeloError, smtplib.SMTPServerDisconnected) as exc:
            # Includes a drop after DATA but before the final reply: the server did not confirm, so
            # this is not "sent"; the retry carries the same Message-ID so receivers can deduplicate.
            # A refused greeting says nothing about the recipients, so it never counts as a bounce.
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            reply = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            # 4xx, and 5xx replies that classify as soft (552 / 5.2.2 mailbox full): "try later".
            if classify_bounce(exc.smtp_code, _text(exc.smtp_error)) is BounceKind.SOFT:
                raise _Deferred(reply) from exc
            # MAIL FROM or DATA refused: about our sender or the content, not the recipients'
            # addresses, so no bounce is recorded against them.
            raise MailRejectedError(f"SMTP refused the message: {reply}") from exc
        except (smtplib.SMTPException, ssl.SSLError) as exc:
            # No common AUTH mechanism, certificate not trusted, ...: retrying cannot help.
            raise MailAuthError(f"SMTP session failed: {type(exc).__name__}: {exc}") from exc
        except OSError as exc:  # refused connection, timeout, DNS failure
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        details = {r: (code, _text(text)) for r, (code, text) in refused.items()}
        accepted = tuple(r for r in recipients if r not in refused)
        bounces = {r: classify_bounce(code, text) for r, (code, text) in details.items()}
        return SendResult(str(message["Message-ID"] or ""), accepted, details, bounces)

    def _open(self, smtp: smtplib.SMTP) -> None:
        smtp.ehlo()
        if self.settings.starttls:
            if not smtp.has_extn("starttls"):
                raise MailAuthError("SMTP_STARTTLS is on but the server does not offer STARTTLS")
            smtp.starttls(context=self.ssl_context)
            smtp.ehlo()
        if self.settings.username and self.settings.password:
            smtp.login(self.settings.username, self.settings.password)


class _Retryable(Exception):
    """Internal: a failure worth another attempt (the server could not be reached or dropped us)."""


class _Deferred(_Retryable):
    """Internal: the server answered "try later" for this message or its recipients."""


def _all_refused(recipients: dict[str, tuple[int, bytes]]) -> Exception:
    bounces = {r: classify_bounce(code, _text(text)) for r, (code, text) in recipients.items()}
    if all(kind is BounceKind.SOFT for kind in bounces.values()):
        detail = "; ".join(f"{r}: {code} {_text(text)}" for r, (code, text) in recipients.items())
        return _Deferred(f"all recipients temporarily refused ({detail})")
    return MailRejectedError("all recipients refused", bounces)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
