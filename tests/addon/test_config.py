from __future__ import annotations

import pytest

from addon.config import ConfigError, load_config


def test_production_refuses_to_start_without_secrets(tmp_path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY, TOKEN_ENCRYPTION_KEY"):
        load_config({"CASHLINE_ENV": "production"}, tmp_path)


def test_development_generates_secrets_once_and_keeps_them(tmp_path) -> None:
    first = load_config({}, tmp_path)
    second = load_config({}, tmp_path)
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["TOKEN_ENCRYPTION_KEY"] == second["TOKEN_ENCRYPTION_KEY"]
    assert (tmp_path / "secret_key.txt").stat().st_mode & 0o777 == 0o600


def test_defaults_and_environment(tmp_path) -> None:
    cfg = load_config({"REDIS_URL": "redis://example:6379/2", "SMTP_PORT": "2525", "SMTP_STARTTLS": "yes",
                       "SECRET_KEY": "s", "TOKEN_ENCRYPTION_KEY": "k"}, tmp_path)
    assert cfg["DATABASE_URL"] == f"sqlite:///{tmp_path / 'cashline.sqlite3'}"
    assert cfg["REDIS_URL"] == "redis://example:6379/2"
    assert cfg["SMTP_PORT"] == 2525
    assert cfg["SMTP_STARTTLS"] is True
    assert cfg["XERO_API_URL"] == "https://api.xero.com"


def test_overrides_win_over_environment(tmp_path) -> None:
    cfg = load_config({"DATABASE_URL": "sqlite:///env.db"}, tmp_path, {"DATABASE_URL": "sqlite:///x.db"})
    assert cfg["DATABASE_URL"] == "sqlite:///x.db"


def test_gate_tolerances_default_and_come_from_the_environment(tmp_path) -> None:
    cfg = load_config({}, tmp_path)
    assert (cfg["SCORING_GATE_BRIER_TOLERANCE"], cfg["SCORING_GATE_AUC_TOLERANCE"]) == (0.005, 0.01)
    cfg = load_config({"SCORING_GATE_BRIER_TOLERANCE": "0.02", "SCORING_GATE_AUC_TOLERANCE": "0"}, tmp_path)
    assert (cfg["SCORING_GATE_BRIER_TOLERANCE"], cfg["SCORING_GATE_AUC_TOLERANCE"]) == (0.02, 0.0)


@pytest.mark.parametrize("value", ["-0.01", "abc", "0,01", "nan", "inf"])
@pytest.mark.parametrize("name", ["SCORING_GATE_BRIER_TOLERANCE", "SCORING_GATE_AUC_TOLERANCE"])
def test_a_bad_gate_tolerance_is_a_startup_error(tmp_path, name, value) -> None:
    with pytest.raises(ConfigError, match=f"{name} must be a number >= 0, got {value!r}"):
        load_config({name: value}, tmp_path)


def test_starttls_without_a_port_uses_the_submission_port(tmp_path) -> None:
    assert load_config({"SMTP_STARTTLS": "true"}, tmp_path)["SMTP_PORT"] == 587
    assert load_config({}, tmp_path)["SMTP_PORT"] == 25
    assert load_config({"SMTP_STARTTLS": "true", "SMTP_PORT": "2525"}, tmp_path)["SMTP_PORT"] == 2525


@pytest.mark.parametrize(("env", "message"), [
    ({"SMTP_STARTTLS": "ture"}, "SMTP_STARTTLS must be true or false, got 'ture'"),
    ({"SMTP_PORT": "25a"}, "SMTP_PORT must be a whole number, got '25a'"),
    ({"SMTP_PORT": "70000"}, "SMTP_PORT must be 1-65535"),
    ({"SMTP_TIMEOUT": "soon"}, "SMTP_TIMEOUT must be a number > 0, got 'soon'"),
    ({"SMTP_HOST": "smtp.example.com", "SMTP_USERNAME": "u", "SMTP_PASSWORD": "p"},
     "SMTP credentials need SMTP_STARTTLS=true"),
    ({"MAIL_FROM": "nobody"}, "MAIL_FROM must be an email address"),
    ({"WEBHOOK_MAX_ATTEMPTS": "five"}, "WEBHOOK_MAX_ATTEMPTS must be a whole number >= 1, got 'five'"),
    ({"WEBHOOK_MAX_ATTEMPTS": "0"}, "WEBHOOK_MAX_ATTEMPTS must be a whole number >= 1, got '0'"),
    ({"TENANT_LOCK_WAIT": "-1"}, "TENANT_LOCK_WAIT must be a number >= 0, got '-1'"),
    ({"TENANT_LOCK_RETRY": "later"}, "TENANT_LOCK_RETRY must be a number >= 0, got 'later'"),
])
def test_a_bad_mail_or_job_setting_is_a_startup_error_naming_it(tmp_path, env, message) -> None:
    """A typo must stop the app at startup with the setting's name, not turn TLS off quietly or surface as
    a bare ValueError (or in the first hourly dunning run)."""
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(env, tmp_path)


TWILIO_OK = {"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC" + "ab" * 16, "TWILIO_AUTH_TOKEN": "t",
             "TWILIO_FROM": "+447700900123"}


def test_sms_provider_checked_at_startup(tmp_path) -> None:
    assert load_config({}, tmp_path)["SMS_PROVIDER"] == "none"
    assert load_config({"SMS_PROVIDER": "Twilio", **{k: v for k, v in TWILIO_OK.items() if k != "SMS_PROVIDER"}},
                       tmp_path)["SMS_PROVIDER"] == "twilio"
    with pytest.raises(ConfigError, match="SMS_PROVIDER must be one of none, memory, twilio, got 'twillio'"):
        load_config({"SMS_PROVIDER": "twillio"}, tmp_path)


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("TWILIO_ACCOUNT_SID", "", "TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits"),
    ("TWILIO_ACCOUNT_SID", "SK" + "ab" * 16, "TWILIO_ACCOUNT_SID"),
    ("TWILIO_AUTH_TOKEN", " ", "TWILIO_AUTH_TOKEN is required"),
    ("TWILIO_FROM", "", "TWILIO_FROM must be"),
    ("TWILIO_FROM", "07700 900123", "TWILIO_FROM must be"),
    ("TWILIO_FROM", "Far too long a name", "TWILIO_FROM must be"),
    ("TWILIO_API_URL", "api.twilio.com", "TWILIO_API_URL must be an http"),
])
def test_twilio_settings_checked_at_startup(tmp_path, setting: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config({**TWILIO_OK, setting: value}, tmp_path)


def test_twilio_settings_accepted(tmp_path) -> None:
    cfg = load_config({**TWILIO_OK, "TWILIO_FROM": "Cashline", "TWILIO_API_URL": "http://127.0.0.1:4040/"}, tmp_path)
    assert (cfg["TWILIO_FROM"], cfg["TWILIO_API_URL"]) == ("Cashline", "http://127.0.0.1:4040")
    # Without SMS_PROVIDER=twilio the Twilio settings are not needed.
    assert load_config({"SMS_PROVIDER": "memory", "TWILIO_FROM": "junk"}, tmp_path)["SMS_PROVIDER"] == "memory"
