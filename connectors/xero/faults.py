"""Xero's HTTP errors, as the typed connector errors callers act on.

A 400 names every refused element (Xero echoes each failing element of a batch with its own
ValidationErrors); a 401 without the call's scope is a ScopeError naming the scope; 429 carries the wait.
"""

from __future__ import annotations

import json
from typing import Any

from xero_python.exceptions import ApiException

from connectors.errors import (
    AuthError,
    ConnectorError,
    NotFoundError,
    RateLimitedError,
    ScopeError,
    TransientError,
    ValidationError,
)
from connectors.xero import auth, scopes


def map_api_exception(exc: ApiException, granted: str = "") -> ConnectorError:
    """An SDK HTTP error -> the typed connector error callers act on (``granted``: the token's scopes,
    to name the one a refused call lacked)."""
    status = exc.status if isinstance(exc.status, int) else getattr(exc.http_resp, "status", None)
    body = _body_text(exc)
    headers = dict(exc.headers or {}) if exc.http_resp is not None else {}
    if status == 401 and _insufficient_scope(headers, body):
        return _scope_error(exc, granted, body)
    if status == 429:
        lowered = {k.lower(): v for k, v in headers.items()}
        return RateLimitedError("Xero rate limit reached", retry_after=auth.rate_limit_wait(headers),
                                problem=lowered.get("x-rate-limit-problem"), body=body)
    if status in (401, 403):
        return AuthError(f"Xero refused the credentials ({status}): reconnect needed", status=status, body=body)
    if status == 404:
        return NotFoundError("not found in Xero", status=404, body=body)
    if status == 400:
        messages = _validation_messages(body)
        # Every element's messages, not only the first: a refused batch payment says which invoices failed.
        return ValidationError("; ".join(messages), errors=messages, status=400, body=body)
    if status is not None and status >= 500:
        return TransientError(f"Xero answered {status}", status=status, body=body)
    return ConnectorError(f"unexpected Xero response {status}", status=status, body=body)


def _insufficient_scope(headers: dict[str, str], body: str) -> bool:
    """Xero's answer to a good token without the call's scope: 401 ``AuthorizationUnsuccessful`` with
    ``WWW-Authenticate: Bearer error="insufficient_scope"`` (a bad or expired token is
    ``AuthenticationUnsuccessful`` / ``TokenExpired``, ``invalid_token``)."""
    challenge = next((v for k, v in headers.items() if k.lower() == "www-authenticate"), "")
    if "insufficient_scope" in challenge:
        return True
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("Detail") == "AuthorizationUnsuccessful"


def _scope_error(exc: ApiException, granted: str, body: str) -> ScopeError:
    # The path is on the urllib3 response; the SDK keeps neither the method nor the operation's name.
    raw = getattr(exc.http_resp, "urllib3_response", None)
    path = str(getattr(raw, "url", "") or "")
    resource = scopes.resource_of(path) or "this call"
    missing = scopes.missing_for(path, granted.split())
    wanted = f"the {missing} scope" if missing else "a scope it needs"
    return ScopeError(f"Xero refused {resource}: the connection was not granted {wanted}; reconnect Xero "
                      "to grant it", scope=missing, status=401, body=body)


def _body_text(exc: ApiException) -> str:
    raw = exc.body
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")


def _validation_messages(body: str) -> list[str]:
    """Every ValidationErrors message of a 400, each naming the element it belongs to: Xero echoes each
    failing element of a batch with its own errors (and its line items with theirs)."""
    try:
        data = json.loads(body)
    except ValueError:
        return [body or "validation failed"]
    if not isinstance(data, dict):
        return [body or "validation failed"]
    messages = []
    for el in data.get("Elements") or []:
        if not isinstance(el, dict):
            continue
        label = _element_label(el)
        # A line item's errors belong to its document; a batch payment's refused payments name their invoice.
        nested = [(e, label) for ln in el.get("LineItems") or [] if isinstance(ln, dict)
                  for e in ln.get("ValidationErrors") or []]
        nested += [(e, _element_label(p) or label) for p in el.get("Payments") or [] if isinstance(p, dict)
                   for e in p.get("ValidationErrors") or []]
        for err, where in [*((e, label) for e in el.get("ValidationErrors") or []), *nested]:
            text = str(err.get("Message") if isinstance(err, dict) else err)
            messages.append(f"{text} ({where})" if where else text)
    return messages or [str(data.get("Message") or "validation failed")]


# Which field of an echoed element names it, most specific first: a payment or an allocation names its
# invoice only inside ``Invoice``; a new element has no id of its own yet, but may have a number or a name.
_LABELS = (("InvoiceNumber", "invoice"), ("InvoiceID", "invoice"), ("Invoice.InvoiceID", "invoice"),
           ("CreditNoteNumber", "credit note"), ("CreditNoteID", "credit note"),
           ("BankTransactionID", "bank transaction"), ("PaymentID", "payment"), ("ContactID", "contact"),
           ("Name", "contact"))


def _element_label(el: dict[str, Any]) -> str | None:
    for path, kind in _LABELS:
        value: Any = el
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if value:
            return f"{kind} {value}"
    return None
