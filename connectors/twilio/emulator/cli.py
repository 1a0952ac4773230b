"""``cashline emulator twilio``: serve the Twilio Messages API on a local port (demo, manual tests)."""

from __future__ import annotations

import click
from werkzeug.serving import run_simple

from connectors.twilio.emulator.app import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_FROM,
    EmulatorState,
    create_app,
)


@click.command(name="twilio")
@click.option("--port", type=int, default=4030, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--account-sid", default=DEFAULT_ACCOUNT_SID, show_default=True)
@click.option("--auth-token", default=DEFAULT_AUTH_TOKEN, show_default=True)
@click.option("--from", "sender", default=DEFAULT_FROM, show_default=True, help="The account's sending number.")
@click.option("--stopped", multiple=True, help="A number (E.164) that replied STOP: texts to it get 21610.")
def command(port: int, host: str, account_sid: str, auth_token: str, sender: str, stopped: tuple[str, ...]) -> None:
    """Run a wire-faithful Twilio Messages API emulator (sent messages at GET .../Messages.json)."""
    state = EmulatorState(account_sid=account_sid, auth_token=auth_token, numbers={sender})
    for number in stopped:
        state.stop(number, sender)
    click.echo(f"Twilio emulator: SMS_PROVIDER=twilio TWILIO_ACCOUNT_SID={account_sid} "
               f"TWILIO_AUTH_TOKEN={auth_token} TWILIO_FROM={sender} TWILIO_API_URL=http://{host}:{port}")
    run_simple(host, port, create_app(state), threaded=True)
