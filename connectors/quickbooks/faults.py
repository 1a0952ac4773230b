"""Map QBO answers (HTTP status, JSON or XML ``Fault`` bodies, SDK exceptions) onto connector errors.

QBO sometimes answers a throttled call with an XML body even when JSON was asked for, which
python-quickbooks cannot parse; ``error_for_response`` therefore runs on the raw HTTP response (as a
requests hook) before the SDK sees it, and reads either body shape.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from lxml import etree
from quickbooks import exceptions as qb_exc

from connectors.errors import (
    AuthError,
    ConflictError,
    ConnectorError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    ValidationError,
)
from connectors.retry import retry_after_seconds

# QBO documents no Retry-After on 429s; without one, wait out the per-minute window.
DEFAULT_THROTTLE_WAIT = 60.0
STALE_OBJECT = 5010
OBJECT_NOT_FOUND = 610
THROTTLE_EXCEEDED = 3001


def parse_fault(body: str) -> tuple[str | None, list[dict[str, str]]]:
    """(fault type, errors) from a JSON or XML Fault body; (None, []) when it is neither."""
    text = body.strip()
    if text.startswith("<"):
        return _parse_xml_fault(text)
    try:
        data: Any = json.loads(text)
    except ValueError:
        return None, []
    fault = data.get("Fault") or data.get("fault") if isinstance(data, dict) else None
    if not isinstance(fault, dict):
        return None, []
    errors = fault.get("Error") or fault.get("error") or []
    return fault.get("type"), [{k: str(v) for k, v in e.items()} for e in errors if isinstance(e, dict)]


def _parse_xml_fault(text: str) -> tuple[str | None, list[dict[str, str]]]:
    try:
        root = etree.fromstring(text.encode(), parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None, []
    fault = next(root.iter("{*}Fault"), None)
    if fault is None:
        return None, []
    errors = []
    for error in fault.iter("{*}Error"):
        item = {"code": error.get("code", "")}
        for child in error:
            item[etree.QName(child).localname] = child.text or ""
        errors.append(item)
    return fault.get("type"), errors


def _summary(errors: list[dict[str, str]], default: str) -> str:
    if not errors:
        return default
    first = errors[0]
    return f"{first.get('Message', default)}: {first.get('Detail', '')}".strip(": ")


def error_for_response(response: requests.Response) -> ConnectorError | None:
    """The typed error for a transport-level failure status (401/403/429/5xx), else None."""
    status = response.status_code
    if status not in (401, 403, 429) and status < 500:
        return None
    body = response.text
    fault_type, errors = parse_fault(body)
    message = _summary(errors, f"HTTP {status}")
    if status == 429:
        wait = retry_after_seconds(response.headers)
        return RateLimitedError(f"QBO throttled the request ({fault_type or 'ThrottleExceeded'}): {message}",
                                retry_after=DEFAULT_THROTTLE_WAIT if wait is None else wait,
                                problem=fault_type, status=429, body=body)
    if status in (401, 403):
        return AuthError(f"QBO rejected the credentials: {message}", status=status, body=body)
    return TransientError(f"QBO server error: {message}", status=status, body=body)


def error_for_sdk(exc: qb_exc.QuickbooksException) -> ConnectorError:
    """Translate a python-quickbooks exception (a Fault in a readable body) by its error code."""
    code = _code(exc.error_code)
    message = f"{exc.message}: {exc.detail}".strip(": ")
    body = str(exc.detail)
    if isinstance(exc, qb_exc.AuthorizationException):
        return AuthError(message, status=401, body=body)
    if code == STALE_OBJECT:
        return ConflictError(message, status=400, body=body)
    if code == OBJECT_NOT_FOUND or isinstance(exc, qb_exc.ObjectNotFoundException):
        return NotFoundError(message, status=400, body=body)
    if code == THROTTLE_EXCEEDED:
        return RateLimitedError(message, retry_after=DEFAULT_THROTTLE_WAIT, problem="ThrottleExceeded")
    if isinstance(exc, qb_exc.SevereException) and code != 10000:
        return TransientError(message, body=body)
    if code == 10000:  # the SDK's own code for a body it could not read or an unexpected status
        return ConnectorError(message, body=body)
    return ValidationError(message, errors=[message], body=body)


def _code(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0
