"""Typed connector errors: the only exceptions a connector lets escape.

Callers decide on retries by type, never by inspecting HTTP status codes or SDK exceptions.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class. ``status`` and ``body`` keep the platform's answer for logs and the audit trail."""

    def __init__(self, message: str, *, status: int | None = None, body: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class AuthError(ConnectorError):
    """Tokens are invalid, revoked or expired beyond refresh: the tenant must reconnect."""


class ScopeError(AuthError):
    """The tokens are good but the grant lacks the scope this call needs (Xero: 401 with
    ``WWW-Authenticate: Bearer error="insufficient_scope"``). Refreshing cannot help: only a reconnect that
    asks for ``scope`` grants it. Still an AuthError, so a caller that needs the call treats the tenant as
    needing a reconnect; one for which the call is optional catches this and carries on without it."""

    def __init__(self, message: str, *, scope: str | None = None, status: int | None = 401,
                 body: str | None = None) -> None:
        super().__init__(message, status=status, body=body)
        self.scope = scope


class NotFoundError(ConnectorError):
    """The entity does not exist (or not for this tenant)."""


class ValidationError(ConnectorError):
    """The platform rejected the request body; retrying the same request cannot succeed."""

    def __init__(self, message: str, *, errors: list[str] | None = None, status: int | None = 400,
                 body: str | None = None) -> None:
        super().__init__(message, status=status, body=body)
        self.errors = errors or [message]


class PartiallyPostedError(ValidationError):
    """The platform refused part of a write made as several requests, after the first ones were saved.

    ``saved`` holds the platform ids of what exists (the caller must not report "nothing posted"); a
    retry under the same idempotency key replays those and re-sends only the rest. ``part`` names the
    refused request by what its key adds to the write's key (``-overpayment``, ``:1``): the caller counts
    it, and the retry sends that part alone under a fresh key (``connectors.base.part_key``), as the
    refused key may be answered by replaying the refusal.
    """

    def __init__(self, message: str, *, saved: list[str], part: str | None = None, errors: list[str] | None = None,
                 status: int | None = 400, body: str | None = None) -> None:
        super().__init__(message, errors=errors, status=status, body=body)
        self.saved = list(saved)
        self.part = part


class ConflictError(ConnectorError):
    """Optimistic-lock conflict (QBO Stale Object Error 5010): re-read and re-apply."""


class RateLimitedError(ConnectorError):
    """HTTP 429. ``retry_after`` is in seconds; ``problem`` is e.g. 'minute', 'day', 'concurrent'."""

    def __init__(self, message: str, *, retry_after: float, problem: str | None = None,
                 status: int | None = 429, body: str | None = None) -> None:
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after
        self.problem = problem


class TransientError(ConnectorError):
    """5xx, timeouts and connection failures: safe to retry later."""
