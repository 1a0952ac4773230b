"""Typed settings read from the environment when the app is created (never at import time).

``CASHLINE_ENV=production`` makes missing secrets a startup error; in development and the demo they
are generated once and kept under ``instance/`` so restarts keep sessions and decryptable tokens.
"""

from __future__ import annotations

import math
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from cryptography.fernet import Fernet

from addon.mail.settings import MailConfigError, MailSettings
from addon.mail.sms import PROVIDER_NAMES

DEFAULTS: dict[str, Any] = {
    "CASHLINE_ENV": "development",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "PUBLIC_URL": "http://127.0.0.1:5000",
    "XERO_CLIENT_ID": "",
    "XERO_CLIENT_SECRET": "",
    "XERO_WEBHOOK_KEY": "",
    "XERO_IDENTITY_URL": "https://identity.xero.com",
    "XERO_LOGIN_URL": "https://login.xero.com",
    "XERO_API_URL": "https://api.xero.com",
    "QBO_CLIENT_ID": "",
    "QBO_CLIENT_SECRET": "",
    "QBO_WEBHOOK_VERIFIER_TOKEN": "",
    "QBO_DISCOVERY_URL": "https://developer.api.intuit.com/.well-known/openid_configuration",
    "QBO_API_URL": "https://quickbooks.api.intuit.com",
    "SMTP_HOST": "127.0.0.1",
    "SMTP_PORT": "",  # empty: 587 with SMTP_STARTTLS, else 25
    "SMTP_USERNAME": "",
    "SMTP_PASSWORD": "",
    "SMTP_STARTTLS": "false",
    "MAIL_FROM": "Cashline <no-reply@cashline.invalid>",
    "INBOUND_REPLY_DOMAIN": "reply.cashline.invalid",
    "SMTP_TIMEOUT": "30",
    "SMS_PROVIDER": "none",
    # SMS_PROVIDER=twilio: the account, its auth token and the sender (our Twilio number in E.164, or an
    # alphanumeric sender id); TWILIO_API_URL points the SDK elsewhere (the emulator, tests).
    "TWILIO_ACCOUNT_SID": "",
    "TWILIO_AUTH_TOKEN": "",
    "TWILIO_FROM": "",
    "TWILIO_API_URL": "https://api.twilio.com",
    "WEBHOOK_MAX_ATTEMPTS": "5",
    # A job that finds its tenant locked by another (its mirror being synced, or its risk model trained or
    # activated) waits this long (seconds), then defers itself by
    # TENANT_LOCK_RETRY seconds (see addon/services/tenant_lock.py).
    "TENANT_LOCK_WAIT": "5",
    "TENANT_LOCK_RETRY": "30",
    "SCORING_PRIOR_INVOICES": "1500",
    "SCORING_PRIOR_SEEDS": "101,202",
    # The retraining quality gate keeps a new model inactive when its Brier score on the held-out invoices
    # is worse than the active model's by more than this, or its ROC AUC lower by more than that
    # (addon/services/scoring_gate.py).
    "SCORING_GATE_BRIER_TOLERANCE": "0.005",
    "SCORING_GATE_AUC_TOLERANCE": "0.01",
    "LOG_LEVEL": "INFO",
}

SECRETS = ("SECRET_KEY", "TOKEN_ENCRYPTION_KEY")
ENV_KEYS = (*DEFAULTS.keys(), "DATABASE_URL", *SECRETS)


class ConfigError(RuntimeError):
    """The environment does not describe a runnable app; the message says what to set."""


def load_config(environ: Mapping[str, str], instance_path: Path,
                overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Merge defaults, environment and explicit overrides into a Flask config dict."""
    cfg: dict[str, Any] = dict(DEFAULTS)
    cfg.update({k: environ[k] for k in ENV_KEYS if environ.get(k)})
    if overrides:
        cfg.update(overrides)
    cfg.setdefault("DATABASE_URL", f"sqlite:///{instance_path / 'cashline.sqlite3'}")
    _resolve_secrets(cfg, instance_path)
    _mail(cfg)
    _sms(cfg)
    cfg["WEBHOOK_MAX_ATTEMPTS"] = _attempts("WEBHOOK_MAX_ATTEMPTS", cfg["WEBHOOK_MAX_ATTEMPTS"])
    cfg["TENANT_LOCK_WAIT"] = _seconds("TENANT_LOCK_WAIT", cfg["TENANT_LOCK_WAIT"])
    cfg["TENANT_LOCK_RETRY"] = _seconds("TENANT_LOCK_RETRY", cfg["TENANT_LOCK_RETRY"])
    for name in GATE_TOLERANCES:
        cfg[name] = _tolerance(name, cfg[name])
    _session_cookie(cfg)
    _forms(cfg)
    return cfg


def _forms(cfg: dict[str, Any]) -> None:
    """Form limits. The CSRF token lives as long as the signed-in session it is bound to: with Flask-WTF's
    default hour, a settings page left open over lunch lost everything typed into it on Save. Requests
    larger than a statement upload (20 MB, plus the form around it) are refused before they are read."""
    cfg.setdefault("WTF_CSRF_TIME_LIMIT", None)
    cfg.setdefault("MAX_CONTENT_LENGTH", 21 * 1024 * 1024)


def _mail(cfg: dict[str, Any]) -> None:
    """The mail settings, checked at startup with MailSettings' own rules (a typo used to surface in the
    first hourly dunning run, and SMTP_STARTTLS=ture quietly meant no TLS). SMTP_PORT defaults to 587 with
    STARTTLS, else 25."""
    value = cfg["SMTP_TIMEOUT"]
    try:
        timeout = float(value)
    except (TypeError, ValueError):
        timeout = math.nan
    if not math.isfinite(timeout) or timeout <= 0:
        raise ConfigError(f"SMTP_TIMEOUT must be a number > 0, got {value!r}")
    try:
        mail = MailSettings.from_env({**cfg, "SMTP_TIMEOUT": timeout})
    except MailConfigError as exc:
        raise ConfigError(str(exc)) from None
    cfg["SMTP_PORT"], cfg["SMTP_STARTTLS"], cfg["SMTP_TIMEOUT"] = mail.port, mail.starttls, mail.timeout


_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_SENDER_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")  # Twilio's alphanumeric sender ids


def _sms(cfg: dict[str, Any]) -> None:
    """The SMS provider and, for Twilio, its account: a typo used to surface only when the first SMS stage
    fell due (or never: SMS_PROVIDER was read and never used)."""
    name = str(cfg["SMS_PROVIDER"] or "none").strip().lower()
    if name not in PROVIDER_NAMES:
        raise ConfigError(f"SMS_PROVIDER must be one of {', '.join(PROVIDER_NAMES)}, got {cfg['SMS_PROVIDER']!r}")
    cfg["SMS_PROVIDER"] = name
    if name != "twilio":
        return
    sid, token = str(cfg["TWILIO_ACCOUNT_SID"]).strip(), str(cfg["TWILIO_AUTH_TOKEN"]).strip()
    sender, url = str(cfg["TWILIO_FROM"]).strip(), str(cfg["TWILIO_API_URL"]).strip()
    if not _ACCOUNT_SID.match(sid):
        raise ConfigError(f"TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits (SMS_PROVIDER=twilio), got {sid!r}")
    if not token:
        raise ConfigError("TWILIO_AUTH_TOKEN is required with SMS_PROVIDER=twilio")
    if not (_E164.match(sender) or _SENDER_ID.match(sender)):
        raise ConfigError("TWILIO_FROM must be a number in E.164 (+447700900123) or an alphanumeric sender id "
                          f"(SMS_PROVIDER=twilio), got {sender!r}")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"TWILIO_API_URL must be an http(s) URL, got {url!r}")
    cfg["TWILIO_ACCOUNT_SID"], cfg["TWILIO_AUTH_TOKEN"], cfg["TWILIO_FROM"] = sid, token, sender
    cfg["TWILIO_API_URL"] = url.rstrip("/")


def _attempts(name: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")
    return number


def _seconds(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise ConfigError(f"{name} must be a number >= 0, got {value!r}")
    return number


GATE_TOLERANCES = ("SCORING_GATE_BRIER_TOLERANCE", "SCORING_GATE_AUC_TOLERANCE")


def _tolerance(name: str, value: Any) -> float:
    """A gate tolerance: a finite number >= 0. A typo must stop the app at startup, not surface as a
    crash (or a gate that passes everything) in the first nightly retrain."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number >= 0, got {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ConfigError(f"{name} must be a number >= 0, got {value!r}")
    return number


def _session_cookie(cfg: dict[str, Any]) -> None:
    """Session cookie flags: never readable by scripts; Secure whenever the app is served over https (a
    browser drops a Secure cookie on http://127.0.0.1, so development keeps it off); SameSite=Lax so
    other sites' forms and scripts do not carry it, while the top-level GET back from the platform's
    consent page (the OAuth callback) still does."""
    cfg.setdefault("SESSION_COOKIE_HTTPONLY", True)
    cfg.setdefault("SESSION_COOKIE_SECURE", str(cfg["PUBLIC_URL"]).lower().startswith("https://"))
    cfg.setdefault("SESSION_COOKIE_SAMESITE", "Lax")


def _resolve_secrets(cfg: dict[str, Any], instance_path: Path) -> None:
    missing = [name for name in SECRETS if not cfg.get(name)]
    if not missing:
        return
    if cfg["CASHLINE_ENV"] == "production":
        raise ConfigError(
            f"missing required setting(s) {', '.join(missing)} in production: set them in the environment "
            "(TOKEN_ENCRYPTION_KEY is a Fernet key: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')")
    generators = {"SECRET_KEY": lambda: secrets.token_urlsafe(48),
                  "TOKEN_ENCRYPTION_KEY": lambda: Fernet.generate_key().decode()}
    for name in missing:
        cfg[name] = _stored_secret(instance_path / f"{name.lower()}.txt", generators[name])


def _stored_secret(path: Path, make: Any) -> str:
    """Read a generated secret from ``path``, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = str(make())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value
