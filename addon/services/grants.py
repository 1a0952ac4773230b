"""What a tenant's OAuth grant does not cover, kept on the tenant so its pages can say what reconnecting
would bring back.

Two cases, told apart by whether Cashline can work without the refused call:
- an *optional* read (e.g. Xero's ``GET /Organisation`` for the base currency and country) refused for a
  missing scope: the sync carries on without it and ``tenant.settings["missing_scopes"]`` records
  ``{what: scope}`` for the tenant home page's warning;
- a *required* call refused (the invoices themselves): the job marks the tenant ``needs_reauth`` and
  ``tenant.settings["reauth_reason"]`` keeps the platform's reason (naming the scope) for the banner.

Reconnecting clears what the new grant covers. Settings are reassigned, never mutated in place: the JSON
column only notices a new value.
"""

from __future__ import annotations

from addon.models import Tenant

MISSING = "missing_scopes"
REAUTH_REASON = "reauth_reason"

# What each optional read brings, for the warning (keys of ``missing_scopes``).
ORGANISATION = "organisation"
PURPOSES = {ORGANISATION: "the organisation's base currency and country (dunning's public holidays)"}


def missing(tenant: Tenant) -> dict[str, str]:
    """``{what: scope}`` for every optional read the grant refused."""
    return dict((tenant.settings or {}).get(MISSING) or {})


def note_missing(tenant: Tenant, what: str, scope: str | None) -> None:
    """Record that the optional read ``what`` was refused for want of ``scope``."""
    if missing(tenant).get(what) != (scope or "unknown"):
        tenant.settings = {**(tenant.settings or {}), MISSING: {**missing(tenant), what: scope or "unknown"}}


def note_granted(tenant: Tenant, what: str) -> None:
    """The optional read ``what`` succeeded: no warning for it any more."""
    if what in missing(tenant):
        rest = {k: v for k, v in missing(tenant).items() if k != what}
        tenant.settings = {**(tenant.settings or {}), MISSING: rest}


def note_reauth_reason(tenant: Tenant, reason: str) -> None:
    tenant.settings = {**(tenant.settings or {}), REAUTH_REASON: reason}


def reconnected(tenant: Tenant, granted: str) -> None:
    """A new grant: forget the reauth reason and every missing scope it now covers (``x`` covers ``x.read``)."""
    scopes = set(granted.split())
    still = {what: scope for what, scope in missing(tenant).items()
             if scope not in scopes and scope.removesuffix(".read") not in scopes}
    settings = {k: v for k, v in (tenant.settings or {}).items() if k not in (MISSING, REAUTH_REASON)}
    tenant.settings = {**settings, **({MISSING: still} if still else {})}
