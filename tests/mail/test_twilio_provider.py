"""The Twilio provider through the official SDK against the Twilio emulator (real loopback HTTP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from addon.mail.sms import (
    SmsAuthError,
    SmsInvalidNumberError,
    SmsRejectedError,
    SmsStoppedError,
    SmsUnavailableError,
    sms_provider_from_config,
)
from addon.mail.twilio_sms import TwilioSettings, TwilioSmsProvider
from connectors.twilio.emulator.app import DEFAULT_FROM
from connectors.twilio.emulator.testing import TwilioSandbox, start_twilio_emulator

TO = "+447911123456"


@pytest.fixture
def twilio() -> Iterator[TwilioSandbox]:
    with start_twilio_emulator() as sandbox:
        yield sandbox


@pytest.fixture
def provider(twilio: TwilioSandbox) -> TwilioSmsProvider:
    made = sms_provider_from_config(twilio.config())
    assert isinstance(made, TwilioSmsProvider)
    return made


def test_sends_through_the_sdk(twilio: TwilioSandbox, provider: TwilioSmsProvider) -> None:
    receipt = provider.send(TO, "Acme Ltd: 2 invoices (£1,200.00) overdue.", idempotency_key="k1")
    [message] = twilio.state.messages
    assert receipt.provider == "twilio"
    assert receipt.provider_id == message["sid"]
    assert message["sid"].startswith("SM")
    assert len(message["sid"]) == 34
    assert (message["to"], message["from"], message["status"]) == (TO, DEFAULT_FROM, "queued")
    assert message["body"] == "Acme Ltd: 2 invoices (£1,200.00) overdue."
    assert message["num_segments"] == "1"


def test_wire_format(twilio: TwilioSandbox) -> None:
    url = f"{twilio.url}/2010-04-01/Accounts/{twilio.state.account_sid}/Messages.json"
    auth = (twilio.state.account_sid, twilio.state.auth_token)
    ok = requests.post(url, data={"To": TO, "From": DEFAULT_FROM, "Body": "x" * 161}, auth=auth, timeout=5)
    assert ok.status_code == 201
    assert ok.json()["num_segments"] == "2"
    assert ok.json()["direction"] == "outbound-api"
    fetched = requests.get(url.replace("Messages.json", f"Messages/{ok.json()['sid']}.json"), auth=auth, timeout=5)
    assert fetched.json()["body"] == "x" * 161
    bad = requests.post(url, data={"To": TO, "From": DEFAULT_FROM, "Body": "x"}, auth=("AC" + "1" * 32, "no"),
                        timeout=5)
    assert bad.status_code == 401
    assert bad.json() == {"code": 20003, "message": "Authenticate", "status": 401,
                          "more_info": "https://www.twilio.com/docs/errors/20003"}
    missing = requests.post(url, data={"From": DEFAULT_FROM, "Body": "x"}, auth=auth, timeout=5)
    assert (missing.status_code, missing.json()["code"]) == (400, 21604)


def test_invalid_number(twilio: TwilioSandbox, provider: TwilioSmsProvider) -> None:
    with pytest.raises(SmsInvalidNumberError, match="21211") as caught:
        provider.send("07911 123456", "hi", idempotency_key="k")
    assert caught.value.code == 21211
    assert twilio.state.messages == []


def test_stop_refusal(twilio: TwilioSandbox, provider: TwilioSmsProvider) -> None:
    twilio.state.stop(TO)
    with pytest.raises(SmsStoppedError) as caught:
        provider.send(TO, "hi", idempotency_key="k")
    assert caught.value.code == 21610
    assert isinstance(caught.value, SmsRejectedError)
    provider.send("+447911654321", "hi", idempotency_key="k2")  # others still get texts
    assert len(twilio.state.messages) == 1


def test_bad_credentials(twilio: TwilioSandbox) -> None:
    provider = TwilioSmsProvider(TwilioSettings(twilio.state.account_sid, "wrong", DEFAULT_FROM, twilio.url))
    with pytest.raises(SmsAuthError) as caught:
        provider.send(TO, "hi", idempotency_key="k")
    assert caught.value.code == 20003


def test_outage_and_unreachable(twilio: TwilioSandbox, provider: TwilioSmsProvider) -> None:
    twilio.state.outages = 1
    with pytest.raises(SmsUnavailableError, match="503"):
        provider.send(TO, "hi", idempotency_key="k")
    provider.send(TO, "hi", idempotency_key="k")  # the outage is over
    gone = TwilioSmsProvider(TwilioSettings(twilio.state.account_sid, twilio.state.auth_token, DEFAULT_FROM,
                                            "http://127.0.0.1:9"), timeout=2)
    with pytest.raises(SmsUnavailableError, match="unreachable"):
        gone.send(TO, "hi", idempotency_key="k")


def test_unknown_sender_is_rejected(twilio: TwilioSandbox) -> None:
    provider = TwilioSmsProvider(TwilioSettings(twilio.state.account_sid, twilio.state.auth_token, "+15005550001",
                                                twilio.url))
    with pytest.raises(SmsRejectedError) as caught:
        provider.send(TO, "hi", idempotency_key="k")
    assert caught.value.code == 21606
    assert not isinstance(caught.value, SmsInvalidNumberError)
