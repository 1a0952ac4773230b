"""Start a QBO emulator on a loopback port and connect to it the way a real app would.

``start_qbo_emulator`` seeds a company and serves it; ``authorize`` completes the real
authorization-code flow over HTTP (consent page, Allow, redirect, token exchange); ``make_connector``
returns a ``QuickBooksConnector`` pointed at the emulator. Used by tests, the demo and sandbox mode.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

from addon.domain.types import TokenSet
from connectors.base import ConnectorConfig
from connectors.quickbooks.emulator.app import DEFAULT_LIMITS, EmulatorState, create_app
from connectors.quickbooks.emulator.oauth import DISCOVERY_PATH
from connectors.quickbooks.emulator.oauth_state import ACCOUNTING_SCOPE, OAuthApp, OAuthState
from connectors.quickbooks.emulator.seed import seed_store
from connectors.quickbooks.emulator.store import QboStore, utcnow
from connectors.quickbooks.emulator.webhooks import CLOUDEVENTS, WebhookNotifier
from connectors.sandbox.consent import read_consent_form
from connectors.sandbox.generator import generate_company
from connectors.sandbox.limits import Limits, RateLimiter
from connectors.sandbox.server import RunningServer, serve_in_thread
from connectors.tokens import TokenStore

if TYPE_CHECKING:
    from connectors.quickbooks import QuickBooksConnector

DEFAULT_CLIENT_ID = "ABqbo-emulator-client"
DEFAULT_CLIENT_SECRET = "qbo-emulator-secret"  # noqa: S105 - a fixed sandbox credential, documented
DEFAULT_REDIRECT_URI = "http://127.0.0.1:5000/auth/qbo/callback"
DEFAULT_REALM_ID = "9341453050000001"
DEFAULT_TODAY = date(2026, 11, 1)


@dataclass
class QboSandbox:
    """A running emulator plus everything a client needs to connect to it."""

    server: RunningServer
    state: EmulatorState
    client_id: str
    client_secret: str
    redirect_uri: str
    realm_id: str
    ids: dict[str, str] = field(default_factory=dict)  # generator id -> QBO Id

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def discovery_url(self) -> str:
        return self.url + DISCOVERY_PATH

    @property
    def store(self) -> QboStore:
        return self.state.store

    @property
    def limiter(self) -> RateLimiter:
        return self.state.limiter

    def config(self, webhook_key: str = "") -> ConnectorConfig:
        """The ConnectorConfig a QuickBooksConnector needs for this emulator."""
        return ConnectorConfig(client_id=self.client_id, client_secret=self.client_secret, api_url=self.url,
                               identity_url=self.discovery_url, webhook_key=webhook_key)

    def user_api(self, access_token: str | None = None) -> UserApi:
        """Raw HTTP access to /v3 as another app or the user would have (its own consent by default)."""
        return UserApi(self, access_token or authorize(self).access_token)

    def drain_webhooks(self, timeout: float = 10.0) -> bool:
        """Flush batched webhook events and wait for their delivery (True if all settled)."""
        return self.state.notifier.drain(timeout) if self.state.notifier else True

    def stop(self) -> None:
        self.server.stop()
        if self.state.notifier is not None:
            self.state.notifier.close()

    def __enter__(self) -> QboSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class UserApi:
    """Calls the emulator's /v3 API directly: create a payment, void an invoice, query, CDC."""

    def __init__(self, sandbox: QboSandbox, access_token: str) -> None:
        self.base = f"{sandbox.url}/v3/company/{sandbox.realm_id}"
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {access_token}", "Accept": "application/json"})

    def get(self, path: str, **params: str) -> requests.Response:
        """GET ``/v3/company/{realm}/{path}`` with query parameters."""
        return self.session.get(f"{self.base}/{path}", params={"minorversion": "75", **params}, timeout=10)

    def post(self, path: str, body: object, **params: str) -> requests.Response:
        """POST a JSON body (``operation=void``/``delete`` etc. as keyword parameters)."""
        return self.session.post(f"{self.base}/{path}", json=body, params={"minorversion": "75", **params},
                                 timeout=10)

    def query(self, statement: str) -> requests.Response:
        """Run a query statement the way python-quickbooks does (POST, application/text)."""
        return self.session.post(f"{self.base}/query", data=statement, params={"minorversion": "75"},
                                 headers={"Content-Type": "application/text"}, timeout=10)


def build_state(seed: int = 7, *, customers: int = 40, invoices: int = 1500, limits: Limits | None = None,
                webhook_url: str | None = None, verifier_token: str | None = None,
                webhook_format: str = CLOUDEVENTS, webhook_time_scale: float = 1.0, today: date = DEFAULT_TODAY,
                client_id: str = DEFAULT_CLIENT_ID, client_secret: str = DEFAULT_CLIENT_SECRET,
                redirect_uris: tuple[str, ...] = (DEFAULT_REDIRECT_URI,), realm_id: str = DEFAULT_REALM_ID,
                custom_fields: dict[str, str] | None = None, webhook_batch_seconds: float | None = None,
                clock: Callable[[], datetime] = utcnow) -> tuple[EmulatorState, dict[str, str]]:
    """Seed a company and build the emulator state (no server yet); returns (state, id map)."""
    company = generate_company(seed, customers=customers, invoices=invoices, today=today, write_offs=True)
    store = QboStore(realm_id=realm_id, company_name=company.name, currency=company.base_currency, clock=clock,
                     custom_fields=dict(custom_fields or {}))
    ids = seed_store(store, company)
    notifier = None
    if webhook_url:
        if not verifier_token:
            raise ValueError("a webhook URL needs a verifier token to sign deliveries")
        notifier = WebhookNotifier(webhook_url, verifier_token, webhook_format, webhook_time_scale,
                                   webhook_batch_seconds)
    oauth = OAuthState(OAuthApp(client_id, client_secret, redirect_uris), realm_id, clock)
    state = EmulatorState(store=store, oauth=oauth, limiter=RateLimiter(limits or DEFAULT_LIMITS),
                          notifier=notifier)
    return state, ids


def start_qbo_emulator(seed: int = 7, *, customers: int = 12, invoices: int = 120, limits: Limits | None = None,
                       webhook_url: str | None = None, verifier_token: str | None = None,
                       today: date = DEFAULT_TODAY, port: int = 0, **options: Any) -> QboSandbox:
    """Seed a company and serve it on a free loopback port (stop() or use as a context manager).

    Extra ``options`` go to ``build_state``: ``webhook_format`` ('legacy' | 'cloudevents'),
    ``webhook_time_scale`` (default 0.001 here: a 60 s batch window becomes 60 ms, the 10 s retry
    10 ms), ``webhook_batch_seconds`` (override the window alone), ``custom_fields``
    ({DefinitionId: Name}), ``client_id``, ``client_secret``, ``redirect_uris``, ``realm_id``, ``clock``.
    """
    options.setdefault("webhook_time_scale", 0.001)
    state, ids = build_state(seed, customers=customers, invoices=invoices, limits=limits,
                             webhook_url=webhook_url, verifier_token=verifier_token, today=today, **options)
    server = _serve(create_app(state), port)
    app = state.oauth.app
    return QboSandbox(server=server, state=state, client_id=app.client_id, client_secret=app.client_secret,
                      redirect_uri=app.redirect_uris[0], realm_id=state.store.realm_id, ids=ids)


def _serve(app: Any, port: int) -> RunningServer:
    """Serve a WSGI app on a loopback port in a background thread (stop() takes milliseconds)."""
    return serve_in_thread(app, port, poll_interval=0.02)


def authorize(sandbox: QboSandbox, redirect_uri: str | None = None) -> TokenSet:
    """Run the authorization-code flow as a user clicking Allow would, then exchange the code."""
    from connectors.quickbooks import exchange_code

    redirect_uri = redirect_uri or sandbox.redirect_uri
    state = secrets.token_urlsafe(16)
    with requests.Session() as browser:
        auth_url = requests.get(sandbox.discovery_url, timeout=10).json()["authorization_endpoint"]
        page = browser.get(auth_url + "?" + urlencode({
            "client_id": sandbox.client_id, "response_type": "code", "scope": f"{ACCOUNTING_SCOPE} openid",
            "redirect_uri": redirect_uri, "state": state}), timeout=10)
        page.raise_for_status()
        form = read_consent_form(page.text)
        data = {**form.fields, "decision": "allow"}  # the Allow button: name="decision" value="allow"
        answer = browser.post(urljoin(page.url, form.action or ""), data=data, allow_redirects=False, timeout=10)
    if answer.status_code != 302:
        raise RuntimeError(f"consent was not accepted: HTTP {answer.status_code}")
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    if query.get("state") != [state]:
        raise RuntimeError("state mismatch on the OAuth redirect")
    return exchange_code(sandbox.config(), query["code"][0], redirect_uri, query["realmId"][0])


def make_connector(sandbox: QboSandbox, token_store: TokenStore, **kwargs: Any) -> QuickBooksConnector:
    """A QuickBooksConnector for the sandbox's company, reading tokens from ``token_store``."""
    from connectors.quickbooks import QuickBooksConnector

    return QuickBooksConnector(sandbox.config(), sandbox.realm_id, token_store, **kwargs)
