from __future__ import annotations

import pytest

from addon.mail import MailConfigError, MailSettings


def test_from_env_reads_every_documented_name():
    settings = MailSettings.from_env({
        "SMTP_HOST": "smtp.example.com", "SMTP_PORT": "2525", "SMTP_USERNAME": "user",
        "SMTP_PASSWORD": "pw", "SMTP_STARTTLS": "true", "MAIL_FROM": "Acme AR <ar@acme.example>",
        "INBOUND_REPLY_DOMAIN": "in.cashline.example",
    })
    assert (settings.host, settings.port, settings.username, settings.password) == (
        "smtp.example.com", 2525, "user", "pw")
    assert settings.starttls is True
    assert settings.sender_address == "ar@acme.example"
    assert settings.sender_domain == "acme.example"
    assert settings.reply_to("t42") == "reply+t42@in.cashline.example"


def test_defaults():
    settings = MailSettings.from_env({})
    assert (settings.host, settings.port, settings.starttls) == ("localhost", 25, False)
    assert settings.reply_to("t1") is None
    assert MailSettings.from_env({"SMTP_STARTTLS": "1"}).port == 587


@pytest.mark.parametrize(("env", "message"), [
    ({"SMTP_PORT": "smtp"}, "SMTP_PORT must be a whole number"),
    ({"SMTP_PORT": "70000"}, "SMTP_PORT must be 1-65535"),
    ({"SMTP_STARTTLS": "maybe"}, "SMTP_STARTTLS must be true or false"),
    ({"SMTP_USERNAME": "u"}, "must be set together"),
    ({"SMTP_HOST": "smtp.example.com", "SMTP_USERNAME": "u", "SMTP_PASSWORD": "p"}, "need SMTP_STARTTLS"),
    ({"MAIL_FROM": "not an address"}, "MAIL_FROM"),
    ({"INBOUND_REPLY_DOMAIN": "ar@example.com"}, "INBOUND_REPLY_DOMAIN"),
])
def test_bad_settings_name_the_setting(env, message):
    with pytest.raises(MailConfigError, match=message):
        MailSettings.from_env(env)


def test_credentials_without_tls_are_allowed_on_loopback_only():
    settings = MailSettings.from_env({"SMTP_HOST": "127.0.0.1", "SMTP_USERNAME": "u", "SMTP_PASSWORD": "p"})
    assert settings.username == "u"
