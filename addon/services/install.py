"""Installing, signing in, and disconnecting: the OAuth 2.0 / OpenID Connect side of the app.

authlib's OAuth2Session builds the authorization URL (state, and PKCE where the platform supports it)
and exchanges the code; the id_token is verified against the platform's JWKS and signs the user in.
One install = one tenant: when a Xero consent covers several organisations the user picks one and the
others are disconnected, so no two tenants ever share (and race on) one rotating refresh token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from redis import Redis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from addon.domain.types import TokenSet
from addon.models import AuditLog, Connection, Membership, Role, Tenant, TenantStatus, User
from addon.security import TokenCipher
from addon.services import grants
from addon.services.connections import DatabaseTokenStore, connector_config, store_tokens, token_set_of
from addon.services.dunning_retries import cancel_all_retries
from connectors.base import ConnectorConfig
from connectors.errors import AuthError, ConnectorError
from connectors.tokens import needs_refresh

logger = logging.getLogger(__name__)

XERO_SCOPES = ("offline_access openid profile email accounting.invoices accounting.payments "
               "accounting.banktransactions accounting.contacts accounting.settings.read")
QBO_SCOPES = "com.intuit.quickbooks.accounting openid profile email"
HTTP_TIMEOUT = 15


class InstallError(Exception):
    """The OAuth round trip failed; the message is safe to show to the user."""


@dataclass(frozen=True)
class Endpoints:
    authorize: str
    token: str
    issuer: str
    jwks_uri: str | None
    revoke: str | None
    pkce: bool


def _get_json(url: str) -> dict[str, Any]:
    try:
        resp = requests.get(url, timeout=HTTP_TIMEOUT)
        resp.raise_for_status()
        return dict(resp.json())
    except (requests.RequestException, ValueError) as exc:
        raise InstallError(f"could not read {url}: {exc}") from exc


def endpoints(platform: str, config: Mapping[str, Any]) -> Endpoints:
    """Where to send the user and where to exchange the code, per platform."""
    if platform == "xero":
        identity = config["XERO_IDENTITY_URL"].rstrip("/")
        login = config.get("XERO_LOGIN_URL", identity).rstrip("/")
        try:
            discovery = _get_json(f"{identity}/.well-known/openid-configuration")
        except InstallError:
            discovery = {}
        return Endpoints(authorize=f"{login}/identity/connect/authorize", token=f"{identity}/connect/token",
                         issuer=discovery.get("issuer", identity), jwks_uri=discovery.get("jwks_uri"),
                         revoke=f"{identity}/connect/revocation", pkce=True)
    if platform == "qbo":
        doc = _get_json(config["QBO_DISCOVERY_URL"])
        return Endpoints(authorize=doc["authorization_endpoint"], token=doc["token_endpoint"],
                         issuer=doc.get("issuer", ""), jwks_uri=doc.get("jwks_uri"),
                         revoke=doc.get("revocation_endpoint"), pkce=False)
    raise InstallError(f"unknown platform {platform!r}")


def oauth_session(platform: str, config: Mapping[str, Any], redirect_uri: str) -> OAuth2Session:
    creds = connector_config(platform, config)
    return OAuth2Session(creds.client_id, creds.client_secret, redirect_uri=redirect_uri,
                         scope=XERO_SCOPES if platform == "xero" else QBO_SCOPES,
                         code_challenge_method="S256" if platform == "xero" else None)


def authorization_url(platform: str, config: Mapping[str, Any], redirect_uri: str) -> tuple[str, dict[str, str]]:
    """Return (url to redirect the user to, values to keep in the session for the callback)."""
    ends = endpoints(platform, config)
    client = oauth_session(platform, config, redirect_uri)
    state, nonce = generate_token(32), generate_token(24)
    pending = {"state": state, "nonce": nonce, "platform": platform}
    kwargs: dict[str, Any] = {"state": state, "nonce": nonce}
    if ends.pkce:
        pending["code_verifier"] = kwargs["code_verifier"] = generate_token(48)
    url, _ = client.create_authorization_url(ends.authorize, **kwargs)
    return url, pending


def exchange_code(platform: str, config: Mapping[str, Any], redirect_uri: str, code: str,
                  pending: Mapping[str, str], now: datetime) -> tuple[TokenSet, dict[str, Any]]:
    """Exchange the code, verify the id_token; returns (tokens, OpenID claims)."""
    ends = endpoints(platform, config)
    client = oauth_session(platform, config, redirect_uri)
    try:
        token = client.fetch_token(ends.token, code=code, grant_type="authorization_code",
                                   code_verifier=pending.get("code_verifier"))
    except Exception as exc:
        raise InstallError(f"the platform refused the authorization code: {exc}") from exc
    tokens = TokenSet(access_token=token["access_token"], refresh_token=token["refresh_token"],
                      expires_at=now + timedelta(seconds=int(token.get("expires_in", 1800))),
                      refresh_expires_at=_refresh_expiry(token, now), scope=str(token.get("scope", "")),
                      id_token=token.get("id_token"))
    claims = verify_id_token(tokens.id_token, ends, connector_config(platform, config).client_id,
                             pending.get("nonce"))
    return tokens, claims


def _refresh_expiry(token: Mapping[str, Any], now: datetime) -> datetime:
    seconds = token.get("x_refresh_token_expires_in")  # QBO tells; Xero documents 60 days
    return now + (timedelta(seconds=int(seconds)) if seconds else timedelta(days=60))


def verify_id_token(id_token: str | None, ends: Endpoints, audience: str, nonce: str | None) -> dict[str, Any]:
    """Check signature (JWKS), issuer, audience, expiry and nonce; return the claims."""
    if not id_token or not ends.jwks_uri:
        raise InstallError("the platform did not return a verifiable OpenID id_token")
    keys = KeySet.import_key_set(_get_json(ends.jwks_uri))  # type: ignore[arg-type]
    try:
        token = jwt.decode(id_token, keys, algorithms=["RS256"])
        jwt.JWTClaimsRegistry(leeway=60, iss={"essential": True, "value": ends.issuer},
                              aud={"essential": True, "value": audience},
                              sub={"essential": True}, exp={"essential": True}).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise InstallError(f"invalid id_token: {exc}") from exc
    claims = token.claims
    # OpenID Connect Core 3.1.3.7: a nonce sent in the request MUST come back. Accepting an id_token
    # without one would let an id_token from another sign-in be replayed into this callback.
    if nonce and claims.get("nonce") != nonce:
        raise InstallError("invalid id_token: nonce missing or mismatched")
    return dict(claims)


def qbo_realm(claims: Mapping[str, Any], realm_id: str | None) -> str:
    """The QuickBooks company this consent covers. ``realmId`` reaches us as a query parameter the user's
    browser carries (and can edit); Intuit's signed id_token names the same company in ``realmid``, so
    the two must agree, or one user could install (and become admin of) another user's company."""
    if not realm_id:
        raise InstallError("QuickBooks did not say which company.")
    if str(claims.get("realmid") or "") != realm_id:
        raise InstallError("The QuickBooks company in the sign-in response does not match the one you "
                           "authorised. Please connect again.")
    return realm_id


def sign_in(session: Session, claims: Mapping[str, Any]) -> User:
    """Find or create the user for these OpenID claims (issuer + subject)."""
    user = session.scalar(select(User).where(User.issuer == claims["iss"], User.subject == str(claims["sub"])))
    if user is None:
        user = User(issuer=claims["iss"], subject=str(claims["sub"]))
        session.add(user)
    user.email = claims.get("email") or user.email
    user.name = claims.get("name") or " ".join(
        filter(None, [claims.get("given_name"), claims.get("family_name")])) or user.name
    session.flush()
    return user


def install_tenant(session: Session, *, platform: str, remote_id: str, name: str, tokens: TokenSet,
                   cipher: TokenCipher, user: User, remote_connection_id: str | None = None) -> Tenant:
    """Create or reconnect the tenant, store its tokens, make the installing user an admin."""
    tenant = session.scalar(select(Tenant).where(Tenant.platform == platform, Tenant.remote_id == remote_id))
    if tenant is None:
        tenant = Tenant(platform=platform, remote_id=remote_id, name=name, settings={})
        session.add(tenant)
    tenant.name, tenant.status = name or tenant.name, TenantStatus.CONNECTED
    grants.reconnected(tenant, tokens.scope)
    session.flush()
    store_tokens(session, tenant, tokens, cipher, remote_connection_id)
    membership = session.scalar(select(Membership).where(Membership.tenant_id == tenant.id,
                                                         Membership.user_id == user.id))
    if membership is None:
        session.add(Membership(tenant_id=tenant.id, user_id=user.id, role=Role.ADMIN))
    session.add(AuditLog(tenant_id=tenant.id, actor=f"user:{user.id}", action="tenant.connected",
                         object_type="tenant", object_id=str(tenant.id), after={"platform": platform,
                                                                                "remote_id": remote_id}))
    session.flush()
    return tenant


def disconnect_tenant(session: Session, tenant: Tenant, config: Mapping[str, Any], *, actor: str,
                      revoke: bool = True) -> None:
    """Our side: revoke the tokens at the platform (best effort), delete the connection, mark tenant."""
    conn = session.scalar(select(Connection).where(Connection.tenant_id == tenant.id))
    if conn is not None and revoke:
        _revoke_remote(tenant, conn, config)
    if conn is not None:
        session.delete(conn)
    _mark(session, tenant, TenantStatus.DISCONNECTED, actor, "tenant.disconnected")
    cancel_all_retries(session, tenant, "the tenant disconnected", actor)


def platform_disconnected(session: Session, tenant: Tenant, *, actor: str) -> None:
    """The platform told us (QBO Disconnect URL): stop jobs, show the reconnect banner, and delete our
    copy of the tokens (the platform has revoked them; nothing should hold them any longer)."""
    conn = session.scalar(select(Connection).where(Connection.tenant_id == tenant.id))
    if conn is not None:
        session.delete(conn)
    _mark(session, tenant, TenantStatus.DISCONNECTED, actor, "tenant.disconnected_by_platform")
    cancel_all_retries(session, tenant, "the platform disconnected the tenant", actor)


GrantState = Literal["revoked", "active", "unknown"]


def qbo_grant_state(tenant: Tenant, config: Mapping[str, Any], *, engine: Engine, redis: Redis) -> GrantState:
    """Ask Intuit whether the company's grant to Cashline still exists, by refreshing its tokens once.

    The Disconnect URL is a bare GET anyone can make a signed-in admin follow, so it is believed only when
    Intuit agrees: ``invalid_grant`` means the grant is gone ("revoked"); new tokens mean it is not
    ("active", and the rotated set is stored like any refresh, under the tenant's refresh lock); anything
    else (Intuit unreachable, our client refused) proves nothing ("unknown").
    """
    from connectors.quickbooks import auth as qbo_auth

    store = DatabaseTokenStore(engine, redis, tenant.id, TokenCipher(config["TOKEN_ENCRYPTION_KEY"]))
    creds = connector_config("qbo", config)

    def do_refresh(current: TokenSet) -> TokenSet:
        return qbo_auth.refresh(qbo_auth.make_auth_client(creds, realm_id=tenant.remote_id), current)

    try:
        store.refresh(store.load(), do_refresh)
    except AuthError as exc:
        if exc.body is not None and "invalid_grant" in exc.body:
            return "revoked"
        if exc.status is None:  # raised by the store: we hold no tokens, so there is no grant to keep
            return "revoked"
        logger.warning("QBO grant check for tenant %s refused: %s", tenant.id, exc)
        return "unknown"
    except ConnectorError as exc:
        logger.warning("QBO grant check for tenant %s failed: %s", tenant.id, exc)
        return "unknown"
    return "active"


def _mark(session: Session, tenant: Tenant, status: TenantStatus, actor: str, action: str) -> None:
    before = tenant.status.value
    tenant.status = status
    session.add(AuditLog(tenant_id=tenant.id, actor=actor, action=action, object_type="tenant",
                         object_id=str(tenant.id), before={"status": before}, after={"status": status.value}))
    session.flush()


def _revoke_remote(tenant: Tenant, conn: Connection, config: Mapping[str, Any]) -> None:
    cipher = TokenCipher(config["TOKEN_ENCRYPTION_KEY"])
    tokens = token_set_of(conn, cipher)
    creds = connector_config(tenant.platform, config)
    if tenant.platform == "xero":
        _revoke_xero(tenant, conn, creds, tokens)
    elif tenant.platform == "qbo":
        from connectors.quickbooks import auth as qbo_auth

        _best_effort(tenant, "revoking tokens", lambda: qbo_auth.revoke(creds, tokens.refresh_token))


def _revoke_xero(tenant: Tenant, conn: Connection, creds: ConnectorConfig, tokens: TokenSet) -> None:
    """DELETE /connections/{id}, then revoke the refresh token: each attempted whatever the other did.

    The stored access token has usually expired (they last 30 minutes), and DELETE needs a live one:
    refresh first (the rotated refresh token is the one revoked afterwards). A failed DELETE must not
    skip the revocation, or Cashline's grant would stay usable at Xero after the user disconnected.
    """
    from connectors.xero import auth as xero_auth

    def delete_connection() -> None:
        nonlocal tokens
        if needs_refresh(tokens, utcnow()):
            tokens = xero_auth.refresh(creds, tokens)
        xero_auth.disconnect_connection(creds, tokens.access_token, str(conn.remote_connection_id))

    if conn.remote_connection_id:
        _best_effort(tenant, "removing the Xero connection", delete_connection)
    _best_effort(tenant, "revoking tokens", lambda: xero_auth.revoke(creds, tokens.refresh_token))


def _best_effort(tenant: Tenant, what: str, call: Callable[[], None]) -> None:
    try:
        call()
    except ConnectorError as exc:  # already revoked on their side: disconnecting must still succeed
        logger.warning("%s of tenant %s failed: %s", what, tenant.id, exc)


def utcnow() -> datetime:
    return datetime.now(UTC)
