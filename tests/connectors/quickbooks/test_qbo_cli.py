"""`cashline emulator qbo`: options reach the emulator it serves."""

from __future__ import annotations

from typing import Any

import click
import pytest
from click.testing import CliRunner

from connectors.quickbooks.emulator import cli


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    calls: dict[str, Any] = {}

    def fake_run_simple(host: str, port: int, app: Any, **kwargs: Any) -> None:
        calls.update(host=host, port=port, app=app, **kwargs)

    monkeypatch.setattr(cli, "run_simple", fake_run_simple)
    return calls


def test_command_is_registered_under_cashline_emulator() -> None:
    from addon.cli import emulator

    root = click.Group()
    emulator.register(root)
    assert root.commands["emulator"].commands["qbo"] is cli.command  # type: ignore[attr-defined]


def test_defaults_serve_seed_7_on_port_4020(served: dict[str, Any]) -> None:
    result = CliRunner().invoke(cli.command, ["--seed", "7", "--port", "4020", "--invoices", "30"])
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"], served["threaded"]) == ("127.0.0.1", 4020, True)
    assert "http://127.0.0.1:4020/.well-known/openid_configuration" in result.output
    client = served["app"].test_client()
    discovery = client.get("/.well-known/openid_configuration").get_json()
    assert discovery["token_endpoint"].endswith("/oauth2/v1/tokens/bearer")
    state = served["app"].extensions["qbo"]
    assert state.store.company_name == "Sandbox Company 7"
    assert len(state.store.entities["Invoice"]) == 30
    assert state.limiter.limits.per_minute == 500
    assert state.limiter.limits.concurrent == 10


def test_app_and_webhook_options(served: dict[str, Any]) -> None:
    result = CliRunner().invoke(cli.command, [
        "--invoices", "10", "--client-id", "my-id", "--client-secret", "my-secret",
        "--redirect-uri", "http://localhost:5000/cb", "--webhook-url", "http://127.0.0.1:9/hook",
        "--verifier-token", "tok", "--webhook-format", "legacy", "--custom-field", "Cashline Risk"])
    assert result.exit_code == 0, result.output
    state = served["app"].extensions["qbo"]
    assert state.oauth.app.client_id == "my-id"
    assert state.oauth.app.client_secret == "my-secret"
    assert state.oauth.app.redirect_uris == ("http://localhost:5000/cb",)
    assert (state.notifier.url, state.notifier.verifier_token, state.notifier.payload_format) == (
        "http://127.0.0.1:9/hook", "tok", "legacy")
    assert state.store.custom_fields == {"1": "Cashline Risk"}
    state.notifier.close()


def test_webhook_url_needs_a_verifier_token(served: dict[str, Any]) -> None:
    result = CliRunner().invoke(cli.command, ["--webhook-url", "http://127.0.0.1:9/hook"])
    assert result.exit_code == 2
    assert "--verifier-token" in result.output
    assert served == {}
