"""One realm's python-quickbooks client: tokens from the TokenStore, typed errors, retries.

Every SDK call goes through ``QboClient.call``: it loads tokens (refreshing through the store when they
are about to expire), runs the call, refreshes once and retries on a 401, and retries throttling and
server errors with ``connectors.retry``. HTTP failures are turned into typed errors by a requests hook,
so XML fault bodies never reach the SDK's JSON parser.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from quickbooks import exceptions as qb_exc

from addon.domain.types import TokenSet
from connectors.base import ConnectorConfig
from connectors.errors import TransientError
from connectors.quickbooks import auth, faults
from connectors.retry import call_with_retries
from connectors.tokens import TokenStore

logger = logging.getLogger(__name__)

T = TypeVar("T")
MINOR_VERSION = 75
TIMEOUT = 30.0


class BearerSession(requests.Session):
    """The session python-quickbooks sends through (it sets the Bearer header from ``access_token``).

    Used instead of requests-oauthlib's OAuth2Session: token refresh is ours (through the TokenStore),
    and a plain session also works against the emulator over loopback HTTP without
    OAUTHLIB_INSECURE_TRANSPORT.
    """

    def __init__(self, access_token: str, timeout: float = TIMEOUT) -> None:
        super().__init__()
        self.access_token = access_token
        self.timeout = timeout
        self.hooks["response"].append(_raise_for_transport)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def _raise_for_transport(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    error = faults.error_for_response(response)
    if error is not None:
        raise error
    return response


class QboClient:
    """python-quickbooks for one realm, with the TokenStore as the only keeper of tokens."""

    def __init__(self, config: ConnectorConfig, realm_id: str, tokens: TokenStore, *,
                 sleep: Callable[[float], None] = time.sleep, max_attempts: int = 4,
                 throttle: Callable[[], AbstractContextManager[None]] = nullcontext) -> None:
        self.config = config
        self._throttle = throttle  # the per-tenant limiter slot held around each HTTP request
        self.realm_id = realm_id
        self.tokens = tokens
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._auth: AuthClient | None = None
        self._qb: QuickBooks | None = None
        self._qb_token: str | None = None

    def call(self, fn: Callable[[QuickBooks], T]) -> T:
        """Run ``fn(qb)`` with fresh tokens, typed errors and retries."""
        return call_with_retries(lambda: self._with_auth(fn), sleep=self._sleep, max_attempts=self._max_attempts)

    def sdk(self) -> QuickBooks:
        """The current python-quickbooks client (tokens refreshed if due)."""
        return self._client(self._current_tokens())

    def _with_auth(self, fn: Callable[[QuickBooks], T]) -> T:
        return self.tokens.call(datetime.now(UTC), self._do_refresh, lambda tokens: self._run(fn, tokens),
                                f"QBO realm {self.realm_id}")

    def _run(self, fn: Callable[[QuickBooks], T], tokens: TokenSet) -> T:
        try:
            with self._throttle():
                return fn(self._client(tokens))
        except qb_exc.QuickbooksException as exc:
            raise faults.error_for_sdk(exc) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(f"QBO unreachable: {exc}") from exc

    def _current_tokens(self) -> TokenSet:
        return self.tokens.current(datetime.now(UTC), self._do_refresh)

    def _do_refresh(self, stale: TokenSet) -> TokenSet:
        return auth.refresh(self._auth_client(), stale)

    def _auth_client(self) -> AuthClient:
        if self._auth is None:
            self._auth = auth.make_auth_client(self.config, realm_id=self.realm_id)
        return self._auth

    def _client(self, tokens: TokenSet) -> QuickBooks:
        if self._qb is not None and self._qb_token == tokens.access_token:
            return self._qb
        client = self._auth_client()
        client.access_token = tokens.access_token
        client.refresh_token = tokens.refresh_token
        # access_token is set, so the constructor does not refresh (and rotate) behind our back.
        qb = QuickBooks(auth_client=client, refresh_token=tokens.refresh_token, company_id=self.realm_id,
                        minorversion=MINOR_VERSION, use_decimal=True)
        qb.api_url_v3 = self.config.api_url.rstrip("/") + "/v3"
        qb.session = BearerSession(tokens.access_token)
        self._qb, self._qb_token = qb, tokens.access_token
        return qb
