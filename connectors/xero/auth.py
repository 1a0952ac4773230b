"""Xero identity calls: code exchange, refresh (rotating), revocation and the /connections endpoints.

These are plain form/JSON calls on the identity host; the SDK's own token refresh is not used because it
keeps tokens in process-global state, and a rotated refresh token must go to the TokenStore first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import requests

from addon.domain.types import TokenSet
from connectors.base import ConnectorConfig
from connectors.errors import AuthError, ConnectorError, NotFoundError, RateLimitedError, TransientError
from connectors.retry import retry_after_seconds
from connectors.tokens import utcnow

REFRESH_TOKEN_LIFETIME = timedelta(days=60)  # unused refresh tokens expire after 60 days
TIMEOUT = 20.0
# Xero's limits are counted per minute: a 429 without a usable Retry-After waits out a whole window.
DEFAULT_RATE_LIMIT_WAIT = 60.0


def rate_limit_wait(headers: Mapping[str, str] | None) -> float:
    """The seconds a 429 asks for: its Retry-After, ``0`` included (retry at once), else a minute."""
    wait = retry_after_seconds(headers)
    return DEFAULT_RATE_LIMIT_WAIT if wait is None else wait


def token_set(payload: dict[str, Any], now: datetime) -> TokenSet:
    """Build a TokenSet from a token-endpoint response received at ``now``."""
    try:
        return TokenSet(access_token=str(payload["access_token"]), refresh_token=str(payload["refresh_token"]),
                        expires_at=now + timedelta(seconds=int(payload["expires_in"])),
                        refresh_expires_at=now + REFRESH_TOKEN_LIFETIME, scope=str(payload.get("scope", "")),
                        id_token=payload.get("id_token"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConnectorError(f"unexpected token response: {exc}") from exc


def _send(method: str, url: str, *, session: requests.Session | None = None, **kwargs: Any) -> requests.Response:
    http = session or requests.Session()
    try:
        resp = http.request(method, url, timeout=TIMEOUT, **kwargs)
    except requests.RequestException as exc:
        raise TransientError(f"{method} {url} failed: {exc}") from exc
    finally:
        if session is None:
            http.close()
    if resp.status_code == 429:
        raise RateLimitedError("rate limited by Xero", retry_after=rate_limit_wait(resp.headers),
                               problem=resp.headers.get("X-Rate-Limit-Problem"), body=resp.text)
    if resp.status_code >= 500:
        raise TransientError(f"Xero answered {resp.status_code}", status=resp.status_code, body=resp.text)
    return resp


def _token_call(config: ConnectorConfig, data: dict[str, str], now: Callable[[], datetime],
                session: requests.Session | None) -> TokenSet:
    resp = _send("POST", f"{config.identity_url.rstrip('/')}/connect/token", data=data, session=session,
                 auth=(config.client_id, config.client_secret))
    if resp.status_code != 200:
        # invalid_grant (expired, reused or revoked) and invalid_client both mean: the user must re-consent.
        raise AuthError(f"token request refused: {_oauth_error(resp)}", status=resp.status_code, body=resp.text)
    return token_set(resp.json(), now())


def _oauth_error(resp: requests.Response) -> str:
    try:
        return str(resp.json().get("error", resp.text))
    except ValueError:
        return resp.text


def exchange_code(config: ConnectorConfig, code: str, redirect_uri: str, *,
                  now: Callable[[], datetime] = utcnow, session: requests.Session | None = None) -> TokenSet:
    """Swap an authorization code for the first token set (raises AuthError on invalid_grant)."""
    return _token_call(config, {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
                       now, session)


def refresh(config: ConnectorConfig, tokens: TokenSet, *, now: Callable[[], datetime] = utcnow,
            session: requests.Session | None = None) -> TokenSet:
    """The refresh_token grant: returns the new set, whose refresh token replaces the old one."""
    return _token_call(config, {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}, now,
                       session)


def revoke(config: ConnectorConfig, refresh_token: str, *, session: requests.Session | None = None) -> None:
    """Revoke a refresh token (Xero then removes all of the app's connections for that user)."""
    resp = _send("POST", f"{config.identity_url.rstrip('/')}/connect/revocation", session=session,
                 data={"token": refresh_token}, auth=(config.client_id, config.client_secret))
    if resp.status_code != 200:
        raise AuthError(f"revocation refused: {_oauth_error(resp)}", status=resp.status_code, body=resp.text)


def list_connections(config: ConnectorConfig, access_token: str, *,
                     session: requests.Session | None = None) -> list[dict[str, Any]]:
    """GET /connections: the tenants this access token may call (id, tenantId, tenantName, ...)."""
    resp = _send("GET", f"{config.api_url.rstrip('/')}/connections", session=session,
                 headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"})
    if resp.status_code in (401, 403):
        raise AuthError("connections refused", status=resp.status_code, body=resp.text)
    if resp.status_code != 200:
        raise ConnectorError(f"connections failed with {resp.status_code}", status=resp.status_code,
                             body=resp.text)
    data = resp.json()
    if not isinstance(data, list):
        raise ConnectorError("unexpected /connections response", body=resp.text)
    return [dict(item) for item in data]


def disconnect_connection(config: ConnectorConfig, access_token: str, connection_id: str, *,
                          session: requests.Session | None = None) -> None:
    """DELETE /connections/{id}: disconnect one tenant from the app."""
    resp = _send("DELETE", f"{config.api_url.rstrip('/')}/connections/{connection_id}", session=session,
                 headers={"Authorization": f"Bearer {access_token}"})
    if resp.status_code == 404:
        raise NotFoundError(f"connection {connection_id} not found", status=404, body=resp.text)
    if resp.status_code in (401, 403):
        raise AuthError("disconnect refused", status=resp.status_code, body=resp.text)
    if resp.status_code != 204:
        raise ConnectorError(f"disconnect failed with {resp.status_code}", status=resp.status_code,
                             body=resp.text)
