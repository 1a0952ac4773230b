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


_PROVIDERS: dict[str, Callable[[Mapping[str, Any]], SmsProvider]] = {
    "none": lambda _config: DisabledSmsProvider(),
    "memory": lambda _config: MemorySmsProvider(),
}


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
