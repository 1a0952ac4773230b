"""The emulator's WSGI app: identity + Accounting API, with Xero's auth, tenant, rate-limit and
idempotency behaviour applied around every API call."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask import Flask, Response, g, request

from connectors.sandbox.generator import generate_company
from connectors.sandbox.limits import Decision, Limits, RateLimiter
from connectors.xero import scopes
from connectors.xero.emulator.api import accounting_blueprint
from connectors.xero.emulator.bank_api import banking_blueprint
from connectors.xero.emulator.batch_api import batch_payments_blueprint
from connectors.xero.emulator.clock import Clock
from connectors.xero.emulator.hooks import DEFAULT_SCHEDULE, WebhookHub
from connectors.xero.emulator.identity import AppRegistration, IdentityState, identity_blueprint, problem
from connectors.xero.emulator.payloads import request_error
from connectors.xero.emulator.seed import build_store
from connectors.xero.emulator.store import OrgStore

API_PREFIX = "/api.xro/2.0"
XERO_LIMITS = Limits(per_minute=60, per_day=5000, concurrent=5)
APP_MINUTE_LIMIT = 10_000
MAX_IDEMPOTENCY_KEY = 128


@dataclass
class EmulatorState:
    """Everything one running emulator holds; tests reach in here for assertions."""

    store: OrgStore
    identity: IdentityState
    hub: WebhookHub
    limiter: RateLimiter
    idempotent: dict[tuple[str, str, str], Response] = field(default_factory=dict)
    idempotency_lock: threading.Lock = field(default_factory=threading.Lock)
    # One lock per key: a request holds its key's lock from the replay check until its response is stored.
    key_locks: dict[tuple[str, str, str], threading.Lock] = field(default_factory=dict)


DEFAULT_CLIENT_ID = "CASHLINEDEVCLIENT"
DEFAULT_CLIENT_SECRET = "cashline-dev-secret"  # noqa: S105 - a documented local emulator default
# Cashline's own callback (PUBLIC_URL + /callback/xero) on the default dev port.
DEFAULT_REDIRECT_URIS = ("http://127.0.0.1:5000/callback/xero", "http://localhost:5000/callback/xero")


def build_state(*, seed: int = 7, customers: int = 40, invoices: int = 1500, today: date = date(2026, 11, 1),
                limits: Limits | None = None, client_id: str = DEFAULT_CLIENT_ID,
                client_secret: str = DEFAULT_CLIENT_SECRET, redirect_uris: Sequence[str] = DEFAULT_REDIRECT_URIS,
                granular_only: bool = False, webhook_url: str | None = None, webhook_key: str | None = None,
                webhook_schedule: Sequence[float] = DEFAULT_SCHEDULE) -> EmulatorState:
    """A seeded organisation with one registered app and (optionally) a webhook subscription."""
    # Seeded history ends at ``today``; if the machine's clock is earlier than that, run the emulator's
    # clock ahead so every seeded change lies in the past (If-Modified-Since stays meaningful).
    lag = datetime.combine(today + timedelta(days=1), time(), tzinfo=UTC) - datetime.now(UTC)
    clock = Clock(offset=max(lag, timedelta(0)))
    # The emulated organisation has written some bad debt off, as a real one has (docs/forecasting.md).
    company = generate_company(seed, customers=customers, invoices=invoices, today=today, write_offs=True)
    store = build_store(company, clock=clock)
    identity = IdentityState(store.tenant_id, store.name, clock)
    identity.register(AppRegistration(client_id, client_secret, tuple(redirect_uris), granular_only=granular_only))
    hub = WebhookHub(store, webhook_url, webhook_key, schedule=webhook_schedule)
    return EmulatorState(store, identity, hub, RateLimiter(limits or XERO_LIMITS))


def create_app(state: EmulatorState) -> Flask:
    """Build the Flask app serving ``state``."""
    app = Flask(__name__)
    app.config["EMULATOR"] = state
    app.register_blueprint(identity_blueprint(state.identity))
    app.register_blueprint(accounting_blueprint(state.store))
    app.register_blueprint(banking_blueprint(state.store))
    app.register_blueprint(batch_payments_blueprint(state.store))

    @app.before_request
    def guard() -> Response | None:
        """Auth, tenant, rate limit and idempotent replay before any API handler."""
        if not request.path.startswith(API_PREFIX):
            return None
        return _authorise(state) or _limit(state) or _replay(state)

    @app.after_request
    def finish(resp: Response) -> Response:
        """Remember idempotent responses, add limit headers, send webhook batches."""
        if request.path.startswith(API_PREFIX):
            _remember(state, resp)
            decision: Decision | None = g.get("rate_decision")
            if decision is not None:
                _limit_headers(resp, decision)
            state.hub.flush(request.url_root.rstrip("/") + API_PREFIX)
        return resp

    @app.teardown_request
    def release(_exc: BaseException | None) -> None:
        """Free the concurrency slot and the idempotency key whatever happened."""
        tenant = g.pop("rate_tenant", None)
        if tenant is not None:
            state.limiter.release(tenant)
        held = g.pop("key_lock", None)
        if held is not None:
            held.release()

    return app


def _authorise(state: EmulatorState) -> Response | None:
    grant, detail = state.identity.authenticate(request.headers.get("Authorization"))
    if grant is None:
        return problem(401, "Unauthorized", detail)
    if not scopes.allows(request.method, request.path, grant.scope):
        # A good token without the scope: 401 AuthorizationUnsuccessful, insufficient_scope (docs/xero.md).
        return problem(401, "Unauthorized", "AuthorizationUnsuccessful", challenge="insufficient_scope")
    tenant = request.headers.get("xero-tenant-id", "").strip().lower()
    if not tenant or not state.identity.is_connected(grant.client_id, tenant):
        return problem(403, "Forbidden", "AuthorizationUnsuccessful")
    g.client_id, g.tenant = grant.client_id, tenant
    return None


def _limit(state: EmulatorState) -> Response | None:
    decision = state.limiter.acquire(g.tenant)
    if not decision.allowed:
        resp = Response(status=429)
        resp.headers["Retry-After"] = str(decision.retry_after)
        resp.headers["X-Rate-Limit-Problem"] = decision.problem or "minute"
        _limit_headers(resp, decision)
        return resp
    g.rate_tenant, g.rate_decision = g.tenant, decision
    return None


def _limit_headers(resp: Response, decision: Decision) -> None:
    resp.headers["X-MinLimit-Remaining"] = str(max(0, decision.minute_remaining))
    if decision.day_remaining is not None:
        resp.headers["X-DayLimit-Remaining"] = str(max(0, decision.day_remaining))
    resp.headers["X-AppMinLimit-Remaining"] = str(APP_MINUTE_LIMIT - 1)


def _idempotency_key(state: EmulatorState) -> tuple[str, str, str] | None:
    key = request.headers.get("Idempotency-Key")
    if not key or request.method not in ("PUT", "POST"):
        return None
    return (g.client_id, g.tenant, key)


def _replay(state: EmulatorState) -> Response | None:
    key = _idempotency_key(state)
    if key is None:
        return None
    if len(key[2]) > MAX_IDEMPOTENCY_KEY:
        return request_error(f"Idempotency-Key must not exceed {MAX_IDEMPOTENCY_KEY} characters.")
    _hold_key(state, key)
    with state.idempotency_lock:
        first = state.idempotent.get(key)
    if first is None:
        return None
    # The first response, byte for byte; nothing is created again.
    return Response(first.get_data(), status=first.status_code, content_type=first.content_type)


def _hold_key(state: EmulatorState, key: tuple[str, str, str]) -> None:
    # A retry can arrive while the first attempt is still running (the client timed out on it): it waits
    # here until that attempt's response is stored, then replays it instead of doing the work twice.
    with state.idempotency_lock:
        lock = state.key_locks.setdefault(key, threading.Lock())
    lock.acquire()
    g.key_lock = lock


def _remember(state: EmulatorState, resp: Response) -> None:
    key = _idempotency_key(state) if g.get("client_id") else None
    if key is None or resp.status_code >= 500 or resp.status_code == 429:
        return
    with state.idempotency_lock:
        state.idempotent.setdefault(key, Response(resp.get_data(), status=resp.status_code,
                                                  content_type=resp.content_type))
