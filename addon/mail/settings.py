"""Mail configuration read from a mapping (the app config), never from the environment at import."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr
from typing import Any

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
DEFAULT_FROM = "Cashline <no-reply@localhost>"


class MailConfigError(ValueError):
    """A mail setting is missing or malformed; the message names the setting."""


@dataclass(frozen=True, slots=True)
class MailSettings:
    host: str = "localhost"
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    mail_from: str = DEFAULT_FROM
    inbound_reply_domain: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, Any]) -> MailSettings:
        """Build from SMTP_HOST, SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD, SMTP_STARTTLS, MAIL_FROM,
        INBOUND_REPLY_DOMAIN (and optional SMTP_TIMEOUT); raise MailConfigError on bad values."""
        starttls = _flag(env, "SMTP_STARTTLS", default=False)
        settings = cls(
            host=str(env.get("SMTP_HOST") or "localhost"),
            port=_int(env, "SMTP_PORT", default=587 if starttls else 25),
            username=_opt(env, "SMTP_USERNAME"),
            password=_opt(env, "SMTP_PASSWORD"),
            starttls=starttls,
            mail_from=str(env.get("MAIL_FROM") or DEFAULT_FROM),
            inbound_reply_domain=_opt(env, "INBOUND_REPLY_DOMAIN"),
            timeout=float(env.get("SMTP_TIMEOUT") or 30.0),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Reject combinations that would fail (or leak credentials) only when the first mail goes out."""
        if not 0 < self.port < 65536:
            raise MailConfigError(f"SMTP_PORT must be 1-65535, got {self.port}")
        if bool(self.username) != bool(self.password):
            raise MailConfigError("SMTP_USERNAME and SMTP_PASSWORD must be set together")
        if self.username and not self.starttls and not _is_loopback(self.host):
            raise MailConfigError("SMTP credentials need SMTP_STARTTLS=true (no passwords in clear text)")
        if "@" not in parseaddr(self.mail_from)[1]:
            raise MailConfigError(f"MAIL_FROM must be an email address, got {self.mail_from!r}")
        if self.inbound_reply_domain and ("@" in self.inbound_reply_domain or "." not in
                                          self.inbound_reply_domain.strip(".")):
            raise MailConfigError(f"INBOUND_REPLY_DOMAIN must be a domain, got {self.inbound_reply_domain!r}")

    @property
    def sender_address(self) -> str:
        return parseaddr(self.mail_from)[1]

    @property
    def sender_domain(self) -> str:
        return self.sender_address.rpartition("@")[2]

    def reply_to(self, tenant_key: str) -> str | None:
        """The tenant's inbound address (replies are routed by the +tag), None when not configured."""
        if not self.inbound_reply_domain:
            return None
        return str(Address(addr_spec=f"reply+{tenant_key}@{self.inbound_reply_domain}"))


def _opt(env: Mapping[str, Any], name: str) -> str | None:
    value = env.get(name)
    return str(value) if value not in (None, "") else None


def _int(env: Mapping[str, Any], name: str, default: int) -> int:
    value = env.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise MailConfigError(f"{name} must be a whole number, got {value!r}") from None


def _flag(env: Mapping[str, Any], name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise MailConfigError(f"{name} must be true or false, got {value!r}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
