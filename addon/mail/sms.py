"""SMS as a pluggable provider, off by default: a tenant must configure a provider to enable it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class SmsReceipt:
    provider: str
    provider_id: str


class SmsDisabledError(RuntimeError):
    """No SMS provider is configured (the default)."""


class SmsError(RuntimeError):
    """The provider did not take the message; ``code`` is the provider's own error code, if it gave one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class SmsUnavailableError(SmsError):
    """The provider could not be reached or asked us to come back later: nothing was sent, try again."""


class SmsAuthError(SmsError):
    """The provider refused our credentials: nothing can be sent until the configuration is fixed."""


class SmsRejectedError(SmsError):
    """The provider refused this message for good (sending it again would be refused again)."""


class SmsInvalidNumberError(SmsRejectedError):
    """The recipient's number is not a number the provider can text (Twilio 21211, 21614)."""


class SmsStoppedError(SmsRejectedError):
    """The recipient replied STOP to our sender: texting them is refused until they reply START (Twilio 21610)."""


class SmsProvider(Protocol):
    name: str

    def send(self, to: str, text: str, *, idempotency_key: str) -> SmsReceipt:
        """Send one SMS; the provider must not send twice for the same idempotency key."""


class DisabledSmsProvider:
    name = "none"

    def send(self, to: str, text: str, *, idempotency_key: str) -> SmsReceipt:
        """Always refuses: SMS is off unless a provider is configured."""
        raise SmsDisabledError("SMS is disabled (set SMS_PROVIDER to enable it)")


@dataclass
class MemorySmsProvider:
    """Keeps messages in memory: tests and the demo."""

    name: str = "memory"
    sent: dict[str, tuple[str, str]] = field(default_factory=dict)

    def send(self, to: str, text: str, *, idempotency_key: str) -> SmsReceipt:
        """Record the message once per idempotency key."""
        self.sent.setdefault(idempotency_key, (to, text))
        return SmsReceipt(self.name, idempotency_key)


def _twilio(config: Mapping[str, Any]) -> SmsProvider:
    from addon.mail.twilio_sms import TwilioSmsProvider  # the SDK is imported only when it is used

    return TwilioSmsProvider.from_config(config)


_PROVIDERS: dict[str, Callable[[Mapping[str, Any]], SmsProvider]] = {
    "none": lambda _config: DisabledSmsProvider(),
    "memory": lambda _config: MemorySmsProvider(),
    "twilio": _twilio,
}
PROVIDER_NAMES = ("none", "memory", "twilio")  # what SMS_PROVIDER may name at startup (addon/config.py)


def register_sms_provider(name: str, factory: Callable[[Mapping[str, Any]], SmsProvider]) -> None:
    """Plug in a real provider (e.g. a Twilio adapter) under ``SMS_PROVIDER=name``."""
    _PROVIDERS[name] = factory


def sms_provider_from_config(config: Mapping[str, Any]) -> SmsProvider:
    """The provider named by SMS_PROVIDER (default "none", i.e. disabled)."""
    name = str(config.get("SMS_PROVIDER") or "none")
    try:
        return _PROVIDERS[name](config)
    except KeyError:
        raise ValueError(f"unknown SMS_PROVIDER {name!r}; choose one of {sorted(_PROVIDERS)}") from None
