"""Xero's identity service: consent page, token endpoint (code + rotating refresh), revocation, connections.

Lifetimes follow the fact sheet: codes 5 minutes and single use, access tokens 30 minutes, refresh tokens
rotate on every use with the previous one honoured for 30 minutes, unused ones expire after 60 days.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, redirect, render_template_string, request

from connectors.sandbox.openid import IdTokenSigner
from connectors.xero import scopes
from connectors.xero.emulator.clock import Clock

CODE_TTL = timedelta(minutes=5)
JWKS_PATH = "/.well-known/openid-configuration/jwks"  # where Xero publishes its signing keys
_CONSENT_FIELDS = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
                   "code_challenge_method")
# The Xero user who "logs in" to the emulator (id_token claims, as Xero names them).
SANDBOX_USER = {"sub": "5fe3ad3e-0c1b-4e0c-9d55-6f2b5d0a7e11", "xero_userid": "5fe3ad3e-0c1b-4e0c-9d55-6f2b5d0a7e11",
                "email": "owner@sandbox.example", "given_name": "Sandbox", "family_name": "Owner",
                "preferred_username": "owner@sandbox.example"}
ACCESS_TTL = timedelta(minutes=30)
REFRESH_GRACE = timedelta(minutes=30)
REFRESH_TTL = timedelta(days=60)

_CONSENT = """<!doctype html>
<html><head><title>Xero | Authorise {{ app }}</title></head>
<body>
<h1>{{ app }} would like access to your Xero organisation</h1>
<p>Organisation: <strong>{{ org }}</strong></p>
<p>Permissions requested: {{ scope }}</p>
<form method="post" action="{{ action }}">
  {% for name, value in fields.items() %}<input type="hidden" name="{{ name }}" value="{{ value }}">
  {% endfor %}
  <button type="submit" name="decision" value="allow" id="allow">Allow access</button>
  <button type="submit" name="decision" value="deny" id="deny">Cancel</button>
</form>
</body></html>"""


@dataclass(frozen=True)
class AppRegistration:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    name: str = "Cashline"
    # Created on or after 2 March 2026: the retired broad scopes (accounting.transactions, ...) are refused.
    granular_only: bool = False


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scope: str
    issued: datetime
    used: bool = False
    nonce: str | None = None
    code_challenge: str | None = None
    challenge_method: str = "plain"

    def verifier_matches(self, verifier: str | None) -> bool:
        """PKCE (RFC 7636): the token request must prove it started the authorization."""
        if not self.code_challenge:
            return True
        if not verifier:
            return False
        if self.challenge_method == "S256":
            digest = hashlib.sha256(verifier.encode()).digest()
            verifier = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return secrets.compare_digest(verifier, self.code_challenge)


@dataclass
class _Access:
    client_id: str
    expires: datetime
    scope: frozenset[str] = frozenset()  # what the grant consented to: each API call is checked against it


@dataclass
class _Refresh:
    client_id: str
    scope: str
    issued: datetime
    rotated: datetime | None = None
    revoked: bool = False
    # When the user signed in (epoch seconds, the signer's clock) if the grant has openid: a refresh then
    # answers a new id_token that keeps this auth_time, as Xero's recorded refresh response shows.
    signed_in: int | None = None


@dataclass
class Connection:
    id: str
    tenant_id: str
    tenant_name: str
    client_id: str
    auth_event_id: str
    created: datetime
    updated: datetime

    def as_json(self) -> dict[str, Any]:
        """The connection as /connections returns it."""
        return {"id": self.id, "authEventId": self.auth_event_id, "tenantId": self.tenant_id,
                "tenantType": "ORGANISATION", "tenantName": self.tenant_name,
                "createdDateUtc": _iso(self.created), "updatedDateUtc": _iso(self.updated)}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f0")


@dataclass
class IdentityState:
    """Registered apps, outstanding grants and the connections they created."""

    tenant_id: str
    tenant_name: str
    clock: Clock
    apps: dict[str, AppRegistration] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    access: dict[str, _Access] = field(default_factory=dict)
    refresh: dict[str, _Refresh] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    signer: IdTokenSigner = field(default_factory=IdTokenSigner)
    user: dict[str, str] = field(default_factory=lambda: dict(SANDBOX_USER))

    def register(self, app: AppRegistration) -> None:
        """Register an app (client id, secret, redirect URIs)."""
        self.apps[app.client_id] = app

    def authenticate(self, header: str | None) -> tuple[_Access | None, str]:
        """The grant behind a ``Bearer`` header, or None and Xero's 401 ``Detail``."""
        if not header or not header.startswith("Bearer "):
            return None, "AuthenticationUnsuccessful"
        grant = self.access.get(header[7:].strip())
        if grant is None:
            return None, "AuthenticationUnsuccessful"
        if grant.expires <= self.clock.now():
            return None, f"TokenExpired: token expired at {grant.expires:%m/%d/%Y %H:%M:%S}"
        return grant, ""

    def is_connected(self, client_id: str, tenant_id: str) -> bool:
        """Whether ``client_id`` currently holds a connection to ``tenant_id``."""
        return any(c.client_id == client_id and c.tenant_id == tenant_id for c in self.connections.values())

    def issue(self, client_id: str, scope: str, *, issuer: str, nonce: str | None = None,
              signed_in: int | None = None) -> dict[str, Any]:
        """A fresh access + refresh token pair in the token endpoint's response shape, with an id_token
        when the scope has ``openid`` (``signed_in``: the original sign-in, on a refresh)."""
        now = self.clock.now()
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        openid = "openid" in scope.split()
        if openid and signed_in is None:
            signed_in = int(time.time())  # the signer stamps iat/exp from the real clock: so must auth_time
        self.access[access] = _Access(client_id, now + ACCESS_TTL, frozenset(scope.split()))
        self.refresh[refresh] = _Refresh(client_id, scope, now, signed_in=signed_in if openid else None)
        # Only these keys: xero-python's OAuth2Token.update_token rejects unknown ones (id_token it takes).
        issued: dict[str, Any] = {"access_token": access, "expires_in": int(ACCESS_TTL.total_seconds()),
                                  "token_type": "Bearer", "refresh_token": refresh, "scope": scope}
        if openid:
            issued["id_token"] = self.signer.sign(issuer=issuer, audience=client_id, subject=self.user["sub"],
                                                  nonce=nonce, **{**self.user, "auth_time": signed_in})
        return issued

    def connect(self, client_id: str) -> None:
        """Create (or refresh) the app's connection to the organisation."""
        now = self.clock.now()
        event = str(uuid.uuid4())
        for conn in self.connections.values():
            if conn.client_id == client_id and conn.tenant_id == self.tenant_id:
                conn.updated, conn.auth_event_id = now, event
                return
        conn = Connection(str(uuid.uuid4()), self.tenant_id, self.tenant_name, client_id, event, now, now)
        self.connections[conn.id] = conn


def _oauth_error(error: str, status: int = 400) -> Response:
    resp = jsonify({"error": error})
    resp.status_code = status
    return resp


def _client_from_basic(state: IdentityState) -> AppRegistration | None:
    header = request.headers.get("Authorization", "")
    client_id = secret = ""
    if header.startswith("Basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
    else:
        client_id, secret = request.form.get("client_id", ""), request.form.get("client_secret", "")
    app = state.apps.get(client_id)
    if app is None or not secrets.compare_digest(app.client_secret, secret):
        return None
    return app


def identity_blueprint(state: IdentityState) -> Blueprint:
    """Routes for /identity/connect/authorize, /connect/token, /connect/revocation and /connections."""
    bp = Blueprint("xero_identity", __name__)

    def check_app(args: Any) -> AppRegistration | Response:
        """The app named by the request, or the error page Xero shows."""
        app = state.apps.get(args.get("client_id", ""))
        if app is None:
            return Response("Error: unauthorized_client - Unknown client or client not enabled", 400)
        if args.get("redirect_uri") not in app.redirect_uris:
            return Response("Error: invalid_request - Invalid redirect_uri", 400)
        if args.get("response_type", "code") != "code":
            return Response("Error: unsupported_response_type", 400)
        requested = set(args.get("scope", "").split())
        refused = requested - scopes.KNOWN
        if app.granular_only:
            refused |= requested & scopes.RETIRED_FOR_NEW_APPS
        if refused:
            # Xero shows an error page here and does not redirect (alga-psa#3002: "Error: invalid_scope").
            return Response(f"Error: invalid_scope - Invalid scope: {' '.join(sorted(refused))}", 400)
        return app

    @bp.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        """OpenID discovery document (issuer, endpoints, jwks_uri)."""
        base = issuer()
        return jsonify({
            "issuer": base, "authorization_endpoint": f"{base}/identity/connect/authorize",
            "token_endpoint": f"{base}/connect/token", "revocation_endpoint": f"{base}/connect/revocation",
            "jwks_uri": base + JWKS_PATH, "response_types_supported": ["code"],
            "scopes_supported": sorted(scopes.KNOWN),
            "code_challenge_methods_supported": ["plain", "S256"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]})

    @bp.get(JWKS_PATH)
    def jwks() -> Any:
        """The public keys that verify id_tokens."""
        return jsonify(state.signer.jwks())

    @bp.get("/identity/connect/authorize")
    def consent() -> Any:
        """GET the consent page."""
        app = check_app(request.args)
        if isinstance(app, Response):
            return app
        fields = {k: request.args.get(k, "") for k in _CONSENT_FIELDS}
        return render_template_string(_CONSENT, app=app.name, org=state.tenant_name, scope=fields["scope"],
                                      fields=fields, action=request.path)

    @bp.post("/identity/connect/authorize")
    def decide() -> Any:
        """POST from the consent page: redirect back with a code or access_denied."""
        app = check_app(request.form)
        if isinstance(app, Response):
            return app
        form = request.form
        back: dict[str, str] = {"state": form.get("state", "")}
        if form.get("decision") != "allow":
            back = {"error": "access_denied", **back}
        else:
            code = secrets.token_urlsafe(24)
            with state.lock:
                state.codes[code] = _Code(app.client_id, form["redirect_uri"], form.get("scope", ""),
                                          state.clock.now(), nonce=form.get("nonce") or None,
                                          code_challenge=form.get("code_challenge") or None,
                                          challenge_method=form.get("code_challenge_method") or "plain")
            back = {"code": code, "scope": form.get("scope", ""), **back}
        return redirect(f"{form['redirect_uri']}?{urlencode(back)}", 302)

    @bp.post("/connect/token")
    def token() -> Any:
        """POST /connect/token."""
        app = _client_from_basic(state)
        if app is None:
            return _oauth_error("invalid_client")
        grant = request.form.get("grant_type")
        with state.lock:
            if grant == "authorization_code":
                return _exchange_code(state, app)
            if grant == "refresh_token":
                return _refresh(state, app)
        return _oauth_error("unsupported_grant_type")

    @bp.post("/connect/revocation")
    def revocation() -> Any:
        """POST /connect/revocation."""
        app = _client_from_basic(state)
        if app is None:
            return _oauth_error("invalid_client")
        with state.lock:
            rec = state.refresh.get(request.form.get("token", ""))
            if rec is not None and rec.client_id == app.client_id:
                rec.revoked = True
                # Revoking the refresh token removes every connection the app holds (as Xero does).
                for conn_id in [c.id for c in state.connections.values() if c.client_id == app.client_id]:
                    del state.connections[conn_id]
                for tok in [t for t, a in state.access.items() if a.client_id == app.client_id]:
                    del state.access[tok]
        return Response(status=200)

    def bearer() -> _Access | Response:
        """The access grant for this request, or the 401 response."""
        grant, detail = state.authenticate(request.headers.get("Authorization"))
        if grant is None:
            return problem(401, "Unauthorized", detail)
        return grant

    @bp.get("/connections")
    def list_connections() -> Any:
        """GET /connections."""
        grant = bearer()
        if isinstance(grant, Response):
            return grant
        event = request.args.get("authEventId")
        items = [c.as_json() for c in state.connections.values()
                 if c.client_id == grant.client_id and (event is None or c.auth_event_id == event)]
        return jsonify(items)

    @bp.delete("/connections/<conn_id>")
    def delete_connection(conn_id: str) -> Any:
        """DELETE /connections/{id}."""
        grant = bearer()
        if isinstance(grant, Response):
            return grant
        with state.lock:
            conn = state.connections.get(conn_id)
            if conn is None or conn.client_id != grant.client_id:
                return problem(404, "NotFound", "Resource not found")
            del state.connections[conn_id]
        return Response(status=204)

    return bp


def issuer() -> str:
    """The issuer is this emulator's own base URL (Xero's is https://identity.xero.com)."""
    return request.url_root.rstrip("/")


def problem(status: int, title: str, detail: str, *, challenge: str = "invalid_token") -> Response:
    """Xero's RFC 7807-style answer for auth/tenant failures (401, 403); a 401 carries the RFC 6750
    challenge: ``invalid_token`` for a bad token, ``insufficient_scope`` for a good one without the scope."""
    resp = jsonify({"Type": None, "Title": title, "Status": status, "Detail": detail,
                    "Instance": str(uuid.uuid4()), "Extensions": {}})
    resp.status_code = status
    if status == 401:
        resp.headers["WWW-Authenticate"] = f'Bearer error="{challenge}", error_description="{detail}"'
    return resp


def _exchange_code(state: IdentityState, app: AppRegistration) -> Response:
    code = state.codes.get(request.form.get("code", ""))
    now = state.clock.now()
    if (code is None or code.used or code.client_id != app.client_id or now - code.issued > CODE_TTL
            or code.redirect_uri != request.form.get("redirect_uri")):
        return _oauth_error("invalid_grant")
    if not code.verifier_matches(request.form.get("code_verifier")):
        return _oauth_error("invalid_grant")
    code.used = True
    state.connect(app.client_id)
    return jsonify(state.issue(app.client_id, code.scope, issuer=issuer(), nonce=code.nonce))


def _refresh(state: IdentityState, app: AppRegistration) -> Response:
    rec = state.refresh.get(request.form.get("refresh_token", ""))
    now = state.clock.now()
    if rec is None or rec.revoked or rec.client_id != app.client_id:
        return _oauth_error("invalid_grant")
    expired = now - rec.issued > REFRESH_TTL
    past_grace = rec.rotated is not None and now - rec.rotated > REFRESH_GRACE
    if expired or past_grace or not any(c.client_id == app.client_id for c in state.connections.values()):
        return _oauth_error("invalid_grant")
    rec.rotated = rec.rotated or now
    # No nonce on a refresh (OpenID Connect Core 12.2): the request carries none to echo.
    return jsonify(state.issue(app.client_id, rec.scope, issuer=issuer(), signed_in=rec.signed_in))
