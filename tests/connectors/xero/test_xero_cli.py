"""`cashline emulator xero`: the exact command-line interface other tools call."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from addon.cli import build_cli
from connectors.xero.emulator import cli


def test_command_is_registered_under_emulator() -> None:
    result = CliRunner().invoke(build_cli(), ["emulator", "xero", "--help"])
    assert result.exit_code == 0, result.output
    for flag in ("--seed", "--port", "--client-id", "--client-secret", "--redirect-uri", "--webhook-url",
                 "--webhook-key"):
        assert flag in result.output


def test_starts_a_seeded_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}

    def fake_run(host: str, port: int, app: Any, **kwargs: Any) -> None:
        served.update(host=host, port=port, app=app, kwargs=kwargs)

    monkeypatch.setattr(cli, "run_simple", fake_run)
    result = CliRunner().invoke(cli.command, ["--seed", "7", "--port", "4010", "--customers", "3",
                                              "--invoices", "20", "--client-id", "ABC", "--client-secret", "S",
                                              "--redirect-uri", "http://localhost:8000/cb"])
    assert result.exit_code == 0, result.output
    assert served["port"] == 4010
    assert served["host"] == "127.0.0.1"
    state = served["app"].config["EMULATOR"]
    assert len(state.store.invoices) == 20
    assert state.identity.apps["ABC"].redirect_uris == ("http://localhost:8000/cb",)
    page = served["app"].test_client().get("/identity/connect/authorize?response_type=code&client_id=ABC"
                                           "&redirect_uri=http://localhost:8000/cb&scope=offline_access&state=1")
    assert page.status_code == 200
    assert b"Allow access" in page.data


def test_webhook_url_needs_a_key() -> None:
    result = CliRunner().invoke(cli.command, ["--webhook-url", "http://127.0.0.1:1/hook"])
    assert result.exit_code != 0
    assert "--webhook-key" in result.output
