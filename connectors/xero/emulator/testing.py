"""Start an emulator in-process and drive it the way an app and a Xero user would (tests, demo)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import requests

from addon.domain.types import TokenSet
from connectors.base import ConnectorConfig
from connectors.sandbox.consent import read_consent_form
from connectors.sandbox.limits import Limits, RateLimiter
from connectors.sandbox.server import RunningServer, serve_in_thread
from connectors.tokens import InMemoryTokenStore, TokenStore
from connectors.xero.auth import exchange_code
from connectors.xero.connector import XeroConnector
from connectors.xero.emulator.app import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    EmulatorState,
    build_state,
    create_app,
)
from connectors.xero.emulator.store import OrgStore

# What Cashline asks for (addon.services.install.XERO_SCOPES): the emulator checks every call against it.
DEFAULT_SCOPE = ("offline_access openid profile email accounting.invoices accounting.payments "
                 "accounting.banktransactions accounting.contacts accounting.settings.read")
# A user acting in Xero may do anything: the broad read-write scopes reach every resource the emulator serves.
USER_SCOPE = "offline_access accounting.transactions accounting.contacts accounting.settings"
TEST_REDIRECT_URI = "http://127.0.0.1:9/xero/callback"  # never contacted: the code is read off the redirect


@dataclass
class XeroSandbox:
    """A running emulator plus what an app needs to talk to it."""

    state: EmulatorState
    server: RunningServer
    client_id: str
    client_secret: str
    redirect_uri: str

    @property
    def url(self) -> str:
        """Base URL (identity, API and connections all live here)."""
        return self.server.url

    @property
    def tenant_id(self) -> str:
        """The organisation's tenant id."""
        return self.state.store.tenant_id

    @property
    def store(self) -> OrgStore:
        """The emulated organisation, for assertions and direct mutations."""
        return self.state.store

    @property
    def limiter(self) -> RateLimiter:
        """The per-tenant rate limiter and its counters."""
        return self.state.limiter

    def api_url(self, path: str) -> str:
        """Absolute URL of an Accounting API path, e.g. ``api_url("/Invoices")``."""
        return f"{self.url}/api.xro/2.0{path}"

    def config(self, webhook_key: str = "") -> ConnectorConfig:
        """Connector configuration pointing at this emulator."""
        return ConnectorConfig(self.client_id, self.client_secret, api_url=self.url, identity_url=self.url,
                               webhook_key=webhook_key)

    def user_session(self) -> requests.Session:
        """An authorised HTTP session acting as a user in Xero (pay, void, edit through the API)."""
        tokens = authorize(self, scope=USER_SCOPE)
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {tokens.access_token}",
                                "xero-tenant-id": self.tenant_id, "Accept": "application/json"})
        return session

    def stop(self) -> None:
        """Shut the server and the webhook sender down."""
        self.server.stop()
        self.state.hub.close()

    def __enter__(self) -> XeroSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_xero_emulator(seed: int = 7, customers: int = 6, invoices: int = 40, limits: Limits | None = None,
                        webhook_url: str | None = None, webhook_key: str | None = None,
                        today: date = date(2026, 11, 1), *, port: int = 0,
                        webhook_schedule: Sequence[float] = (0, 0.05, 0.1),
                        redirect_uris: Sequence[str] = (), granular_only: bool = False) -> XeroSandbox:
    """Seed an organisation and serve it on a free loopback port (small by default, for tests).

    ``redirect_uris`` registers extra callback URLs (e.g. the Flask app's) beside TEST_REDIRECT_URI;
    ``granular_only`` registers an app created after 2 March 2026 (broad transaction scopes refused).
    """
    state = build_state(seed=seed, customers=customers, invoices=invoices, today=today, limits=limits,
                        redirect_uris=(TEST_REDIRECT_URI, *redirect_uris), webhook_url=webhook_url,
                        webhook_key=webhook_key, webhook_schedule=webhook_schedule, granular_only=granular_only)
    server = serve_app(create_app(state), port)
    return XeroSandbox(state, server, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, TEST_REDIRECT_URI)


def serve_app(app: Any, port: int = 0) -> RunningServer:
    """Serve a WSGI app on a loopback port in a background thread (stop() takes milliseconds)."""
    return serve_in_thread(app, port, poll_interval=0.02)


def authorize(sandbox: XeroSandbox, redirect_uri: str | None = None, scope: str = DEFAULT_SCOPE,
              state: str = "cashline-test-state") -> TokenSet:
    """Complete the authorization-code flow over HTTP: consent page, Allow, redirect, code exchange."""
    redirect_uri = redirect_uri or sandbox.redirect_uri
    query = urlencode({"response_type": "code", "client_id": sandbox.client_id, "redirect_uri": redirect_uri,
                       "scope": scope, "state": state})
    with requests.Session() as http:
        page = http.get(f"{sandbox.url}/identity/connect/authorize?{query}", timeout=10)
        page.raise_for_status()
        form = read_consent_form(page.text)
        answer = http.post(sandbox.url + (form.action or ""), data={**form.fields, "decision": "allow"},
                           allow_redirects=False, timeout=10)
    location = urlparse(answer.headers["Location"])
    params = parse_qs(location.query)
    if params.get("state") != [state]:
        raise RuntimeError("state mismatch on the authorization redirect")
    return exchange_code(sandbox.config(), params["code"][0], redirect_uri)


def make_connector(sandbox: XeroSandbox, token_store: TokenStore | None = None,
                   webhook_key: str = "") -> XeroConnector:
    """A XeroConnector for the sandbox's organisation (authorising first if no store is given)."""
    tokens = token_store or InMemoryTokenStore(authorize(sandbox))
    return XeroConnector(sandbox.config(webhook_key), sandbox.tenant_id, tokens)
