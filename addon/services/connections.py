"""Connections: encrypted token storage, serialised refresh, and building a tenant's connector.

Refresh is the classic multi-worker bug (API_FACTS pain point 1): two workers refresh the same token
set, the platform rotates the refresh token twice, and one of them gets ``invalid_grant``. Here the
refresh runs under a per-tenant Redis lock, re-reads the stored tokens after acquiring it (someone may
have refreshed while we waited), and commits the rotated tokens in their own transaction *before*
releasing the lock or using them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from redis import Redis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from addon.domain.types import TokenSet
from addon.models import Connection, Tenant, TenantStatus
from addon.security import TokenCipher
from addon.services.ratelimit import RedisRateLimiter, TenantLimits
from connectors.base import AccountingConnector, ConnectorConfig, get_connector
from connectors.errors import AuthError, TransientError
from connectors.tokens import RefreshFn, TokenStore

logger = logging.getLogger(__name__)

LOCK_TIMEOUT = 30  # seconds a refresh may hold the lock (a refresh is one HTTP call)
LOCK_WAIT = LOCK_TIMEOUT + 5  # seconds a worker waits for another worker's refresh before giving up


def token_set_of(conn: Connection, cipher: TokenCipher) -> TokenSet:
    return TokenSet(access_token=cipher.decrypt(conn.access_token_enc),
                    refresh_token=cipher.decrypt(conn.refresh_token_enc), expires_at=conn.expires_at,
                    refresh_expires_at=conn.refresh_expires_at, scope=conn.scopes)


def write_token_set(conn: Connection, tokens: TokenSet, cipher: TokenCipher) -> None:
    """The inverse of ``token_set_of``: encrypt ``tokens`` into the connection's columns (scopes apart:
    callers differ on keeping the granted ones when a refresh omits them)."""
    conn.access_token_enc = cipher.encrypt(tokens.access_token)
    conn.refresh_token_enc = cipher.encrypt(tokens.refresh_token)
    conn.expires_at = tokens.expires_at
    conn.refresh_expires_at = tokens.refresh_expires_at


def store_tokens(session: Session, tenant: Tenant, tokens: TokenSet, cipher: TokenCipher,
                 remote_connection_id: str | None = None) -> Connection:
    """Create or replace the tenant's connection with ``tokens`` (encrypted). Flushes."""
    conn = session.scalar(select(Connection).where(Connection.tenant_id == tenant.id))
    if conn is None:
        conn = Connection(tenant_id=tenant.id)
        session.add(conn)
    write_token_set(conn, tokens, cipher)
    conn.scopes = tokens.scope
    if remote_connection_id is not None:
        conn.remote_connection_id = remote_connection_id
    session.flush()
    return conn


def rotate_token_encryption(session: Session, keys: str) -> int:
    """Re-encrypt every connection's tokens under the newest key; older keys may then be dropped."""
    cipher, count = TokenCipher(keys), 0
    for conn in session.scalars(select(Connection)):
        conn.access_token_enc = cipher.rotate(conn.access_token_enc)
        conn.refresh_token_enc = cipher.rotate(conn.refresh_token_enc)
        count += 1
    session.flush()
    return count


class DatabaseTokenStore(TokenStore):
    """Tokens of one tenant, read from and written to the ``connections`` table.

    Uses its own short transactions on ``engine`` (not the caller's session) so a rotated refresh
    token is durable the moment it exists, whatever happens to the job that triggered the refresh.
    """

    def __init__(self, engine: Engine, redis: Redis, tenant_id: int, cipher: TokenCipher) -> None:
        self._engine = engine
        self._redis = redis
        self._tenant_id = tenant_id
        self._cipher = cipher

    def _read(self, session: Session) -> Connection:
        conn = session.scalar(select(Connection).where(Connection.tenant_id == self._tenant_id))
        if conn is None:
            raise AuthError(f"tenant {self._tenant_id} has no connection; reconnect required")
        return conn

    def load(self) -> TokenSet:
        with Session(self._engine) as session:
            return token_set_of(self._read(session), self._cipher)

    def refresh(self, stale: TokenSet, do_refresh: RefreshFn) -> TokenSet:
        lock = self._redis.lock(f"cashline:refresh:{self._tenant_id}", timeout=LOCK_TIMEOUT,
                                blocking_timeout=LOCK_WAIT)
        if not lock.acquire():
            # Transient, not AuthError: the tokens are not known to be bad, and an AuthError would mark
            # the tenant needs_reauth (jobs/sync.py) just because another worker's refresh was slow.
            raise TransientError(f"could not obtain the token refresh lock for tenant {self._tenant_id}")
        try:
            with Session(self._engine) as session:
                conn = self._read(session)
                current = token_set_of(conn, self._cipher)
                if current.access_token != stale.access_token:
                    return current  # another worker refreshed while we waited: reuse its tokens
                fresh = do_refresh(current)
                write_token_set(conn, fresh, self._cipher)
                conn.scopes = fresh.scope or conn.scopes
                session.commit()
                logger.info("refreshed tokens for tenant %s", self._tenant_id)
                return fresh
        finally:
            lock.release()


def connector_config(platform: str, config: Mapping[str, Any]) -> ConnectorConfig:
    """The platform's client credentials and base URLs from app config."""
    if platform == "xero":
        return ConnectorConfig(client_id=config["XERO_CLIENT_ID"], client_secret=config["XERO_CLIENT_SECRET"],
                               api_url=config["XERO_API_URL"], identity_url=config["XERO_IDENTITY_URL"],
                               webhook_key=config["XERO_WEBHOOK_KEY"])
    if platform == "qbo":
        return ConnectorConfig(client_id=config["QBO_CLIENT_ID"], client_secret=config["QBO_CLIENT_SECRET"],
                               api_url=config["QBO_API_URL"], identity_url=config["QBO_DISCOVERY_URL"],
                               webhook_key=config["QBO_WEBHOOK_VERIFIER_TOKEN"])
    return ConnectorConfig(client_id="fake", client_secret="fake", api_url="", identity_url="",  # noqa: S106
                           webhook_key=config.get("FAKE_WEBHOOK_KEY", "fake-key"))


def connector_for(tenant: Tenant, *, engine: Engine, redis: Redis, config: Mapping[str, Any]
                  ) -> AccountingConnector:
    """A ready connector for ``tenant``: stored tokens, serialised refresh, shared rate limiter."""
    if tenant.status is not TenantStatus.CONNECTED:
        raise AuthError(f"tenant {tenant.id} is {tenant.status.value}; reconnect required")
    factory = config.get("CONNECTOR_FACTORY")
    if factory is not None:  # tests and the demo can inject a prepared connector (e.g. the fake)
        connector: AccountingConnector = factory(tenant)
    else:
        store = DatabaseTokenStore(engine, redis, tenant.id, TokenCipher(config["TOKEN_ENCRYPTION_KEY"]))
        connector = get_connector(tenant.platform, connector_config(tenant.platform, config), tenant.remote_id,
                                  store)
    limits = TenantLimits.for_platform(tenant.platform, config.get("RATE_LIMITS"))
    connector.throttle = RedisRateLimiter(redis, f"{tenant.platform}:{tenant.remote_id}", limits).slot
    return connector
