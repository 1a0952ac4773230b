"""Xero webhook deliveries: signature check and payload parsing (no I/O)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from addon.domain.types import ChangeEvent, ChangeOperation, EntityKind, Platform

_KINDS = {"CONTACT": EntityKind.CONTACT, "INVOICE": EntityKind.INVOICE, "CREDITNOTE": EntityKind.CREDIT_NOTE}
_OPERATIONS = {"CREATE": ChangeOperation.CREATE, "UPDATE": ChangeOperation.UPDATE}


def signature(body: bytes, key: str) -> str:
    """base64(HMAC-SHA256(key as UTF-8, raw body)): the ``x-xero-signature`` value."""
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def verify(body: bytes, provided: str | None, key: str) -> bool:
    """Constant-time comparison of the provided signature with the expected one."""
    if not provided or not key:
        return False
    return hmac.compare_digest(signature(body, key).encode(), provided.strip().encode())


def parse(body: bytes) -> list[ChangeEvent]:
    """Events of a verified delivery; intent-to-receive probes (no events) give an empty list."""
    try:
        events = _events(json.loads(body))
        return [e for e in (_event(item) for item in events) if e is not None]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed Xero webhook payload: {exc}") from exc


def _events(data: Any) -> list[dict[str, Any]]:
    events = data["events"]
    if not isinstance(events, list):
        raise TypeError("events must be a list")
    return events


def _event(item: dict[str, Any]) -> ChangeEvent | None:
    kind = _KINDS.get(item["eventCategory"])
    if kind is None:  # SUBSCRIPTION and future categories are not entity changes
        return None
    return ChangeEvent(platform=Platform.XERO, tenant_remote_id=str(item["tenantId"]), kind=kind,
                       entity_id=str(item["resourceId"]), operation=_OPERATIONS[item["eventType"]],
                       occurred_at=_event_time(item.get("eventDateUtc")))


def _event_time(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).rstrip("Z"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
