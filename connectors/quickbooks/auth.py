"""OAuth for QBO through intuit-oauth: code exchange, refresh (rotating) and revoke.

``AuthClient`` reads Intuit's OpenID discovery document when it is built (``identity_url``), so one
client is created per connector and reused; the refresh token it returns replaces the old one, which
Intuit retires, so the caller must persist it before using the new access token.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import requests
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError

from addon.domain.types import TokenSet
from connectors.base import ConnectorConfig
from connectors.errors import AuthError, ConnectorError, TransientError


def make_auth_client(config: ConnectorConfig, redirect_uri: str = "", tokens: TokenSet | None = None,
                     realm_id: str | None = None) -> AuthClient:
    """An intuit-oauth client whose endpoints come from ``config.identity_url`` (the discovery doc)."""
    try:
        return AuthClient(config.client_id, config.client_secret, redirect_uri, config.identity_url,
                          access_token=tokens.access_token if tokens else None,
                          refresh_token=tokens.refresh_token if tokens else None, realm_id=realm_id)
    except AuthClientError as exc:
        raise oauth_error(exc, "discovery document") from exc
    except requests.RequestException as exc:
        raise TransientError(f"could not fetch the QBO discovery document: {exc}") from exc


def oauth_error(exc: AuthClientError, what: str) -> ConnectorError:
    """Typed error for a failed call to Intuit's OAuth server."""
    body = exc.content.decode(errors="replace") if isinstance(exc.content, bytes) else str(exc.content)
    if exc.status_code >= 500 or exc.status_code == 429:
        return TransientError(f"QBO {what} failed: HTTP {exc.status_code}", status=exc.status_code, body=body)
    return AuthError(f"QBO {what} failed: HTTP {exc.status_code} {body}", status=exc.status_code, body=body)


@contextmanager
def _oauth_call(what: str) -> Iterator[None]:
    """Around one SDK call to Intuit's OAuth server: its failure as a typed error (``oauth_error``), a
    network failure as transient."""
    try:
        yield
    except AuthClientError as exc:
        raise oauth_error(exc, what) from exc
    except requests.RequestException as exc:
        raise TransientError(f"QBO {what} failed: {exc}") from exc


def token_set(client: AuthClient, now: datetime) -> TokenSet:
    """The TokenSet the client holds after a token call (``x_refresh_token_expires_in`` included)."""
    refresh_in = getattr(client, "x_refresh_token_expires_in", None)
    return TokenSet(access_token=client.access_token, refresh_token=client.refresh_token,
                    expires_at=now + timedelta(seconds=int(client.expires_in or 3600)),
                    refresh_expires_at=now + timedelta(seconds=int(refresh_in)) if refresh_in else None,
                    scope=str(getattr(client, "scope", "") or ""))


def exchange_code(config: ConnectorConfig, code: str, redirect_uri: str, realm_id: str) -> TokenSet:
    """Exchange an authorization code (from the redirect with code/state/realmId) for tokens."""
    client = make_auth_client(config, redirect_uri, realm_id=realm_id)
    with _oauth_call("code exchange"):
        client.get_bearer_token(code, realm_id=realm_id)
    return token_set(client, datetime.now(UTC))


def refresh(client: AuthClient, stale: TokenSet) -> TokenSet:
    """Use ``stale.refresh_token`` once; the returned set carries the rotated refresh token."""
    with _oauth_call("token refresh"):
        client.refresh(refresh_token=stale.refresh_token)
    return token_set(client, datetime.now(UTC))


def revoke(config: ConnectorConfig, token: str) -> None:
    """Revoke a refresh or access token (disconnects the app from the company)."""
    client = make_auth_client(config)
    with _oauth_call("revoke"):
        client.revoke(token=token)
