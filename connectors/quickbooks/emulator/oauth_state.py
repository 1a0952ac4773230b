"""Intuit's OAuth 2.0 server, in memory: authorization codes, access tokens and rotating refresh tokens.

Access tokens live 3600 s. Every refresh issues a new refresh token (rolling 100-day expiry, capped
at five years from consent) and retires the old one, so a client that loses the rotated token gets
``invalid_grant`` exactly as it would in production.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connectors.sandbox.openid import IdTokenSigner

ACCESS_TTL = timedelta(seconds=3600)
REFRESH_TTL = timedelta(days=100)
MAX_CONNECTION_AGE = timedelta(days=5 * 365)
CODE_TTL = timedelta(minutes=5)
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"


# The one user of the sandbox company (what userinfo and id_tokens describe).
EMULATOR_USER = {"sub": "emulator-user", "email": "owner@sandbox.example"}


class OAuthError(Exception):
    """An RFC 6749 error: ``error`` code and HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class OAuthApp:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@dataclass
class Grant:
    """One consent (a 'connection'): all tokens issued from it share its fate on revoke."""

    realm_id: str
    scope: str
    created: datetime
    revoked: bool = False


@dataclass
class Token:
    value: str
    grant: Grant
    expires_at: datetime
    retired: bool = False


@dataclass
class AuthCode:
    grant: Grant
    redirect_uri: str
    expires_at: datetime
    used: bool = False
    nonce: str | None = None


@dataclass
class OAuthState:
    app: OAuthApp
    realm_id: str
    clock: Callable[[], datetime]
    codes: dict[str, AuthCode] = field(default_factory=dict)
    access: dict[str, Token] = field(default_factory=dict)
    refresh: dict[str, Token] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    id_tokens: IdTokenSigner = field(default_factory=IdTokenSigner)

    def issue_code(self, client_id: str, redirect_uri: str, scope: str, nonce: str | None = None) -> str:
        """Record the user's consent and return a one-time code (valid 5 minutes)."""
        self.check_client_redirect(client_id, redirect_uri)
        code = "AB" + secrets.token_urlsafe(32)
        with self.lock:
            grant = Grant(self.realm_id, scope, self.clock())
            self.codes[code] = AuthCode(grant, redirect_uri, self.clock() + CODE_TTL, nonce=nonce or None)
        return code

    def check_client_redirect(self, client_id: str, redirect_uri: str) -> None:
        if client_id != self.app.client_id:
            raise OAuthError("invalid_client", "unknown client_id", 401)
        if redirect_uri not in self.app.redirect_uris:
            raise OAuthError("invalid_request", "redirect_uri is not registered for this app")

    def authenticate(self, client_id: str | None, client_secret: str | None) -> None:
        if client_id != self.app.client_id or not secrets.compare_digest(client_secret or "",
                                                                         self.app.client_secret):
            raise OAuthError("invalid_client", "client authentication failed", 401)

    def exchange_code(self, code: str, redirect_uri: str, issuer: str = "") -> dict[str, object]:
        """grant_type=authorization_code; with the openid scope the answer carries a signed id_token."""
        with self.lock:
            entry = self.codes.get(code)
            if entry is None or entry.used or entry.expires_at <= self.clock():
                raise OAuthError("invalid_grant", "authorization code is invalid, expired or already used")
            if entry.redirect_uri != redirect_uri:
                raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
            entry.used = True
            body = self._issue(entry.grant)
        if "openid" in entry.grant.scope.split():
            body["id_token"] = self.id_tokens.sign(
                issuer=issuer, audience=self.app.client_id, subject=EMULATOR_USER["sub"], nonce=entry.nonce,
                realmid=self.realm_id, email=EMULATOR_USER["email"], email_verified=True)
        return body

    def refresh_tokens(self, refresh_token: str) -> dict[str, object]:
        """grant_type=refresh_token: rotate (the presented refresh token is retired)."""
        with self.lock:
            token = self.refresh.get(refresh_token)
            if token is None or token.retired or token.grant.revoked or token.expires_at <= self.clock():
                raise OAuthError("invalid_grant", "refresh token is invalid, expired, revoked or already used")
            token.retired = True
            return self._issue(token.grant)

    def revoke(self, value: str) -> None:
        """Revoking either token disconnects the app: every token of that consent stops working."""
        with self.lock:
            token = self.refresh.get(value) or self.access.get(value)
            if token is not None:
                token.grant.revoked = True

    def check_access(self, value: str) -> Grant | None:
        """The consent behind a live access token, or None."""
        token = self.access.get(value)
        if token is None or token.grant.revoked or token.expires_at <= self.clock():
            return None
        return token.grant

    def expire_access_tokens(self) -> None:
        """Test helper: make every access token expire now (as if an hour had passed)."""
        with self.lock:
            for token in self.access.values():
                token.expires_at = self.clock()

    def _issue(self, grant: Grant) -> dict[str, object]:
        now = self.clock()
        access = Token("eyJ" + secrets.token_urlsafe(48), grant, now + ACCESS_TTL)
        refresh_expiry = min(now + REFRESH_TTL, grant.created + MAX_CONNECTION_AGE)
        refresh = Token("RT1-" + secrets.token_urlsafe(32), grant, refresh_expiry)
        self.access[access.value] = access
        self.refresh[refresh.value] = refresh
        return {"token_type": "bearer", "access_token": access.value,
                "expires_in": int(ACCESS_TTL.total_seconds()), "refresh_token": refresh.value,
                "x_refresh_token_expires_in": int((refresh_expiry - now).total_seconds())}
