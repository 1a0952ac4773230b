"""Start the Twilio emulator in-process (tests, demo) and get the settings that point Cashline at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from connectors.sandbox.server import RunningServer, serve_in_thread
from connectors.twilio.emulator.app import DEFAULT_FROM, EmulatorState, create_app


@dataclass
class TwilioSandbox:
    state: EmulatorState
    server: RunningServer

    @property
    def url(self) -> str:
        return self.server.url

    def config(self) -> dict[str, Any]:
        """The app settings that send SMS through this emulator."""
        return {"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": self.state.account_sid,
                "TWILIO_AUTH_TOKEN": self.state.auth_token, "TWILIO_FROM": DEFAULT_FROM, "TWILIO_API_URL": self.url}


@contextmanager
def start_twilio_emulator(state: EmulatorState | None = None) -> Iterator[TwilioSandbox]:
    state = state or EmulatorState()
    server = serve_in_thread(create_app(state))
    try:
        yield TwilioSandbox(state, server)
    finally:
        server.stop()
