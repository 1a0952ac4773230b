"""Where a connector gets its tokens and how a refresh is serialised and persisted.

The connector never keeps the only copy of a rotated refresh token: it hands the refresh to a
``TokenStore``, which runs it under whatever lock it has (a Redis lock in production) and persists the
new token set *before* anyone uses it. A worker that waited on the lock finds the tokens already fresh
and reuses them instead of refreshing again (refreshing twice is what causes ``invalid_grant``).
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from addon.domain.types import TokenSet
from connectors.errors import AuthError, ScopeError

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Refresh a little before expiry so a token never expires in flight.
EXPIRY_MARGIN = timedelta(seconds=60)

RefreshFn = Callable[[TokenSet], TokenSet]


def needs_refresh(tokens: TokenSet, now: datetime) -> bool:
    """True when the access token is expired or about to be."""
    return tokens.expires_at - EXPIRY_MARGIN <= now


class TokenStore(abc.ABC):
    @abc.abstractmethod
    def load(self) -> TokenSet:
        """Return the current tokens (fresh from storage)."""

    @abc.abstractmethod
    def refresh(self, stale: TokenSet, do_refresh: RefreshFn) -> TokenSet:
        """Refresh once under a lock unless someone already replaced ``stale``; persist; return new."""

    def current(self, now: datetime, do_refresh: RefreshFn) -> TokenSet:
        """Tokens to call the platform with: the stored ones, refreshed first when about to expire."""
        tokens = self.load()
        return self.refresh(tokens, do_refresh) if needs_refresh(tokens, now) else tokens

    def call(self, now: datetime, do_refresh: RefreshFn, run: Callable[[TokenSet], T], who: str) -> T:
        """``run(tokens)``; if the platform answers 401 (token revoked or expired early), refresh once
        through the store and run again, then give up (a second 401 propagates)."""
        tokens = self.current(now, do_refresh)
        try:
            return run(tokens)
        except AuthError as exc:
            if exc.status != 401 or isinstance(exc, ScopeError):  # new tokens carry the same scopes
                raise
            logger.info("the platform answered 401 for %s; refreshing tokens once", who)
            return run(self.refresh(tokens, do_refresh))


class InMemoryTokenStore(TokenStore):
    """Process-local store: tests, the CLI and single-process sandbox use."""

    def __init__(self, tokens: TokenSet, on_saved: Callable[[TokenSet], None] | None = None) -> None:
        self._tokens = tokens
        self._lock = threading.Lock()
        self._on_saved = on_saved

    def load(self) -> TokenSet:
        return self._tokens

    def refresh(self, stale: TokenSet, do_refresh: RefreshFn) -> TokenSet:
        with self._lock:
            if self._tokens.access_token != stale.access_token:
                return self._tokens  # another thread refreshed while we waited
            self._tokens = do_refresh(self._tokens)
            if self._on_saved:
                self._on_saved(self._tokens)
            return self._tokens


def utcnow() -> datetime:
    return datetime.now(UTC)
