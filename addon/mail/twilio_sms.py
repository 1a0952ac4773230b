"""SMS through Twilio's Messages API with the official ``twilio`` SDK (``SMS_PROVIDER=twilio``).

Twilio's Messages API takes no idempotency key: what keeps a reminder from being texted twice is the
exactly-once claim committed before ``send`` (addon/services/dunning_send.py), as for e-mail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from addon.mail.sms import (
    SmsAuthError,
    SmsError,
    SmsInvalidNumberError,
    SmsReceipt,
    SmsRejectedError,
    SmsStoppedError,
    SmsUnavailableError,
)

TWILIO_API_URL = "https://api.twilio.com"
TIMEOUT_SECONDS = 30.0
# Twilio's error codes (https://www.twilio.com/docs/api/errors) that name the recipient's number.
STOPPED = {21610}  # the recipient replied STOP
INVALID_NUMBER = {21211, 21214, 21217, 21401, 21407, 21408, 21421, 21614}  # 21614: a landline
AUTH = {20003, 20005, 20008}  # bad credentials, suspended account, test credentials


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    sender: str  # TWILIO_FROM: our number in E.164 (or an alphanumeric sender id)
    api_url: str = TWILIO_API_URL

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TwilioSettings:
        return cls(str(config.get("TWILIO_ACCOUNT_SID") or ""), str(config.get("TWILIO_AUTH_TOKEN") or ""),
                   str(config.get("TWILIO_FROM") or ""), str(config.get("TWILIO_API_URL") or TWILIO_API_URL))


class TwilioSmsProvider:
    name = "twilio"

    def __init__(self, settings: TwilioSettings, timeout: float = TIMEOUT_SECONDS) -> None:
        self.settings = settings
        self.client = Client(settings.account_sid, settings.auth_token,
                             http_client=TwilioHttpClient(timeout=timeout))
        # The SDK builds every Messages URL from its Api domain's base_url: pointing it elsewhere (the
        # emulator, a regional proxy) changes nothing else about the requests.
        self.client.api.base_url = settings.api_url.rstrip("/")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TwilioSmsProvider:
        return cls(TwilioSettings.from_config(config))

    def send(self, to: str, text: str, *, idempotency_key: str) -> SmsReceipt:
        """Create one Message; raises an SmsError subclass saying whether to retry, drop the number or stop.
        ``idempotency_key`` is not sent (Twilio takes none): the caller's claim is what prevents a repeat."""
        try:
            message = self.client.messages.create(to=to, from_=self.settings.sender, body=text)
        except TwilioRestException as exc:
            raise _error(exc) from exc
        except (requests.RequestException, TwilioException) as exc:
            raise SmsUnavailableError(f"Twilio unreachable: {exc}") from exc
        return SmsReceipt(self.name, str(message.sid))


def _error(exc: TwilioRestException) -> SmsError:
    code = int(exc.code) if exc.code is not None else None
    text = f"Twilio {code or exc.status}: {exc.msg}"
    if code in STOPPED:
        return SmsStoppedError(text, code)
    if code in INVALID_NUMBER:
        return SmsInvalidNumberError(text, code)
    if code in AUTH or exc.status in (401, 403):
        return SmsAuthError(text, code)
    if exc.status == 429 or exc.status >= 500:
        return SmsUnavailableError(text, code)
    return SmsRejectedError(text, code)
