"""SmtpSender against a real SMTP server on loopback: what arrived, retries, refusals, STARTTLS + AUTH."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from addon.mail import (
    BounceKind,
    MailAuthError,
    MailDeferredError,
    MailRejectedError,
    MailSettings,
    MailUnavailableError,
    SmtpSender,
)


def _message(to: str = "ap@acme.example", cc: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Example Supplies <ar@supplier.example>"
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = "Reminder"
    msg["Message-ID"] = "<abc123@supplier.example>"
    msg.set_content("Please pay INV-1.\n")
    return msg


def _sender(port: int, sleeps: list[float] | None = None, **overrides: object) -> SmtpSender:
    settings = MailSettings(host="127.0.0.1", port=port, mail_from="ar@supplier.example", timeout=5)
    log = sleeps if sleeps is not None else []
    return SmtpSender(settings, sleep=log.append, **overrides)  # type: ignore[arg-type]


def test_message_arrives_with_envelope_and_headers(smtp_server):
    result = _sender(smtp_server.port).send(_message())
    assert result.sent
    assert result.accepted == ("ap@acme.example",)
    assert result.message_id == "<abc123@supplier.example>"
    [arrived] = smtp_server.sink.arrived
    assert arrived.mail_from == "ar@supplier.example"
    assert arrived.rcpt_tos == ["ap@acme.example"]
    assert arrived.message["Message-ID"] == "<abc123@supplier.example>"
    assert arrived.message.get_content() == "Please pay INV-1.\n"


def test_temporary_failure_is_retried_with_backoff_then_sent_once(smtp_server):
    smtp_server.sink.temp_fail_data = 2
    sleeps: list[float] = []
    result = _sender(smtp_server.port, sleeps, base_delay=1.0).send(_message())
    assert result.attempts == 3
    assert len(smtp_server.sink.arrived) == 1
    assert len(sleeps) == 2
    assert 0.75 <= sleeps[0] <= 1.25
    assert 1.5 <= sleeps[1] <= 2.5


def test_server_down_is_retried_then_reported_unavailable(closed_port):
    sleeps: list[float] = []
    sender = _sender(closed_port, sleeps, max_attempts=3, base_delay=2.0)
    with pytest.raises(MailUnavailableError, match="after 3 attempts"):
        sender.send(_message())
    assert len(sleeps) == 2  # attempts 1 and 2 each wait before the next try


def test_temporary_failure_every_time_is_never_reported_sent(smtp_server):
    smtp_server.sink.temp_fail_data = 10
    with pytest.raises(MailUnavailableError):
        _sender(smtp_server.port, max_attempts=3).send(_message())
    assert smtp_server.sink.data_calls == 3
    assert smtp_server.sink.arrived == []


def test_partially_refused_recipients_are_not_reported_sent(smtp_server):
    smtp_server.sink.refuse["gone@acme.example"] = "550 5.1.1 User unknown"
    result = _sender(smtp_server.port).send(_message(cc="gone@acme.example"))
    assert result.accepted == ("ap@acme.example",)
    assert result.refused["gone@acme.example"][0] == 550
    assert result.bounces == {"gone@acme.example": BounceKind.HARD}
    assert smtp_server.sink.arrived[0].rcpt_tos == ["ap@acme.example"]


def test_all_recipients_hard_refused_raises_with_bounce_kinds(smtp_server):
    smtp_server.sink.refuse["gone@acme.example"] = "550 5.1.1 User unknown"
    sleeps: list[float] = []
    with pytest.raises(MailRejectedError) as info:
        _sender(smtp_server.port, sleeps).send(_message(to="gone@acme.example"))
    assert info.value.bounces == {"gone@acme.example": BounceKind.HARD}
    assert sleeps == []  # a permanent refusal is not retried
    assert smtp_server.sink.arrived == []


def test_soft_refused_recipient_is_retried(smtp_server):
    smtp_server.sink.refuse["full@acme.example"] = "452 4.2.2 Mailbox full"
    sleeps: list[float] = []
    with pytest.raises(MailUnavailableError):
        _sender(smtp_server.port, sleeps, max_attempts=2).send(_message(to="full@acme.example"))
    assert len(sleeps) == 1


def test_starttls_and_login(tls_smtp_server):
    settings = MailSettings(host="127.0.0.1", port=tls_smtp_server.port, username="cashline",
                            password="s3cret", starttls=True, mail_from="ar@supplier.example", timeout=5)
    result = SmtpSender(settings, ssl_context=tls_smtp_server.client_tls, sleep=lambda _: None).send(
        _message())
    assert result.accepted == ("ap@acme.example",)
    assert len(tls_smtp_server.sink.arrived) == 1


def test_wrong_password_fails_fast(tls_smtp_server):
    settings = MailSettings(host="127.0.0.1", port=tls_smtp_server.port, username="cashline",
                            password="wrong", starttls=True, mail_from="ar@supplier.example", timeout=5)
    sleeps: list[float] = []
    with pytest.raises(MailAuthError):
        SmtpSender(settings, ssl_context=tls_smtp_server.client_tls, sleep=sleeps.append).send(_message())
    assert sleeps == []
    assert tls_smtp_server.sink.arrived == []


def test_starttls_required_but_not_offered(smtp_server):
    settings = MailSettings(host="127.0.0.1", port=smtp_server.port, starttls=True,
                            mail_from="ar@supplier.example", timeout=5)
    with pytest.raises(MailAuthError, match="STARTTLS"):
        SmtpSender(settings, sleep=lambda _: None).send(_message())
    assert smtp_server.sink.arrived == []


def test_content_rejected_at_data_is_not_a_recipient_bounce(smtp_server):
    async def reject(server, session, envelope):
        return "554 5.6.0 Message content rejected"

    smtp_server.sink.handle_DATA = reject  # type: ignore[method-assign]
    with pytest.raises(MailRejectedError) as info:
        _sender(smtp_server.port).send(_message())
    assert info.value.bounces == {}  # the address is fine: do not suppress it


def test_untrusted_certificate_fails_fast(tls_smtp_server):
    settings = MailSettings(host="127.0.0.1", port=tls_smtp_server.port, username="cashline",
                            password="s3cret", starttls=True, mail_from="ar@supplier.example", timeout=5)
    sleeps: list[float] = []
    with pytest.raises(MailAuthError, match="SSL"):
        SmtpSender(settings, sleep=sleeps.append).send(_message())  # default trust store: self-signed fails
    assert sleeps == []


@pytest.mark.parametrize("reply", ["552 5.2.2 Mailbox full", "452 4.2.2 Mailbox full, try later",
                                   "421 4.3.0 Try again later"])
def test_try_later_at_data_is_reported_deferred_not_rejected(smtp_server, reply):
    """552 mailbox full is a 5xx that is not a hard bounce: like a 4xx it is worth another run."""
    smtp_server.sink.data_reply = reply
    with pytest.raises(MailDeferredError, match=reply[:3]):
        _sender(smtp_server.port, max_attempts=2).send(_message())
    assert smtp_server.sink.data_calls == 2
    assert smtp_server.sink.arrived == []


def test_soft_refused_recipient_is_reported_deferred(smtp_server):
    smtp_server.sink.refuse["ap@acme.example"] = "452 4.2.2 Mailbox full"
    with pytest.raises(MailDeferredError):
        _sender(smtp_server.port, max_attempts=2).send(_message())


def test_server_down_is_unavailable_not_deferred(closed_port):
    """The server being down says nothing about the reminder: not counted against the stage."""
    with pytest.raises(MailUnavailableError) as info:
        _sender(closed_port, max_attempts=2).send(_message())
    assert not isinstance(info.value, MailDeferredError)


@pytest.mark.parametrize("reply", ["550 5.1.1 No such user", "554 5.7.1 Rejected", "553 5.1.3 Bad address"])
def test_permanent_refusal_at_data_is_rejected_at_once(smtp_server, reply):
    smtp_server.sink.data_reply = reply
    with pytest.raises(MailRejectedError):
        _sender(smtp_server.port, max_attempts=3).send(_message())
    assert smtp_server.sink.data_calls == 1
