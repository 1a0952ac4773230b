"""Fixtures for the Xero connector and emulator tests: a small running emulator, an authorised
connector, a webhook receiver, and the OpenAPI spec (loaded once per session: it is 900 KB)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from flask import Flask, request

from connectors.sandbox.server import RunningServer
from connectors.tokens import InMemoryTokenStore
from connectors.xero import XeroConnector
from connectors.xero.emulator.testing import (
    XeroSandbox,
    authorize,
    make_connector,
    serve_app,
    start_xero_emulator,
)
from tests.paths import SPECS


@pytest.fixture
def sandbox() -> Iterator[XeroSandbox]:
    with start_xero_emulator(seed=7, customers=6, invoices=40) as sb:
        yield sb


@pytest.fixture
def token_store(sandbox: XeroSandbox) -> InMemoryTokenStore:
    return InMemoryTokenStore(authorize(sandbox))


@pytest.fixture
def connector(sandbox: XeroSandbox, token_store: InMemoryTokenStore) -> XeroConnector:
    conn = make_connector(sandbox, token_store)
    conn._sleep = lambda _s: None  # retries must not slow the suite down
    return conn


@pytest.fixture
def api(sandbox: XeroSandbox) -> requests.Session:
    """Raw HTTP as an authorised app/user (acting in Xero as a user would)."""
    session = sandbox.user_session()
    yield session
    session.close()


class Receiver:
    """A webhook endpoint that verifies signatures like Cashline's (or fails on purpose)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.bodies: list[bytes] = []
        self.rejected = 0
        self.fail_next = 0
        self.lock = threading.Lock()
        self.app = Flask("receiver")
        self.app.add_url_rule("/hook", "hook", self.handle, methods=["POST"])
        self.server: RunningServer | None = None

    def handle(self) -> tuple[str, int]:
        body = request.get_data()
        with self.lock:
            if not XeroConnector.verify_webhook(body, request.headers.get("x-xero-signature"), self.key):
                self.rejected += 1
                return "", 401
            if not json.loads(body)["events"]:
                return "", 200  # intent-to-receive probe: correctly signed, nothing to store
            if self.fail_next > 0:
                self.fail_next -= 1
                return "", 503
            self.bodies.append(body)
        return "", 200

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url + "/hook"

    def events(self) -> list[dict[str, Any]]:
        return [e for b in self.bodies for e in json.loads(b)["events"]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver("test-webhook-key")
    rec.server = serve_app(rec.app)
    yield rec
    rec.server.stop()


@pytest.fixture(scope="session")
def accounting_spec_dict() -> dict[str, Any]:
    with (SPECS / "xero" / "xero_accounting.yaml").open() as fh:
        # The C loader parses the 900 KB spec in a fraction of a second; both loaders are the safe ones.
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # type: ignore[no-any-return]  # noqa: S506


@pytest.fixture(scope="session")
def specs_dir() -> Path:
    return SPECS


@pytest.fixture(scope="session")
def webhook_vectors() -> dict[str, Any]:
    return json.loads((SPECS / "webhook-test-vectors.json").read_text())  # type: ignore[no-any-return]
