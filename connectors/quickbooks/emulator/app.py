"""The emulator's Flask app factory and the state it serves (store, OAuth server, limiter, webhooks)."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import Flask

from connectors.quickbooks.emulator.oauth_state import OAuthState
from connectors.quickbooks.emulator.store import QboStore
from connectors.quickbooks.emulator.webhooks import WebhookNotifier
from connectors.sandbox.limits import Limits, RateLimiter

# QBO: 500 requests per minute per realm, 10 concurrent per app and realm; no documented daily cap.
DEFAULT_LIMITS = Limits(per_minute=500, per_day=None, concurrent=10)


@dataclass
class EmulatorState:
    store: QboStore
    oauth: OAuthState
    limiter: RateLimiter
    notifier: WebhookNotifier | None = None
    # Throttled calls get XML Fault bodies even when JSON was asked for, as production does at times.
    throttle_xml: bool = True
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=2000))

    def __post_init__(self) -> None:
        if self.notifier is not None:
            notifier, realm = self.notifier, self.store.realm_id
            self.store.listeners.append(
                lambda kind, eid, op, when: notifier.record(realm, kind, eid, op, when))


def _encode(value: Any) -> Any:
    # JSON numbers on the wire; amounts are 2-dp Decimals, whose float repr prints the same digits.
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(payload: Any) -> str:
    """Serialise a QBO response body."""
    return json.dumps(payload, default=_encode)


def create_app(state: EmulatorState) -> Flask:
    """Build the WSGI app serving OAuth, discovery and ``/v3/company/{realmId}`` for ``state``."""
    from connectors.quickbooks.emulator import api, oauth

    app = Flask("qbo_emulator")
    app.extensions["qbo"] = state
    app.register_blueprint(oauth.bp)
    app.register_blueprint(api.bp)
    return app
