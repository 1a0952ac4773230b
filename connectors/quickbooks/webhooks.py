"""Verify and parse QBO webhook deliveries in both formats (legacy eventNotifications, CloudEvents)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from addon.domain.types import ChangeEvent, ChangeOperation, EntityKind, Platform

KINDS = {"invoice": EntityKind.INVOICE, "payment": EntityKind.PAYMENT, "creditmemo": EntityKind.CREDIT_NOTE,
         "customer": EntityKind.CONTACT}
OPERATIONS = {"create": ChangeOperation.CREATE, "created": ChangeOperation.CREATE,
              "update": ChangeOperation.UPDATE, "updated": ChangeOperation.UPDATE,
              "delete": ChangeOperation.DELETE, "deleted": ChangeOperation.DELETE,
              "void": ChangeOperation.VOID, "voided": ChangeOperation.VOID,
              "merge": ChangeOperation.MERGE, "merged": ChangeOperation.MERGE}


def _operation(name: str) -> ChangeOperation:
    # QBO sends operations beyond the documented five ("Emailed" on invoices, payments, credit memos...).
    # An event is only a prompt to re-read the entity, so an unknown one counts as an update; refusing it
    # would fail the whole delivery and make QBO hold back the events after it.
    return OPERATIONS.get(name.lower(), ChangeOperation.UPDATE)


def verify(body: bytes, signature: str | None, verifier_token: str) -> bool:
    """Constant-time check of ``intuit-signature`` = base64(HMAC-SHA256(verifier token, raw body))."""
    if not signature or not verifier_token:
        return False
    expected = base64.b64encode(hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def parse(body: bytes) -> list[ChangeEvent]:
    """Events for the entities Cashline follows; other entities (Account, Bill, ...) are skipped."""
    try:
        data = json.loads(body)
        if isinstance(data, list):
            return [e for e in (_cloud_event(item) for item in data) if e is not None]
        if isinstance(data, dict) and isinstance(data.get("eventNotifications"), list):
            return [e for n in data["eventNotifications"] for e in _legacy(n)]
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValueError(f"malformed QBO webhook payload: {exc}") from exc
    raise ValueError("malformed QBO webhook payload: neither eventNotifications nor a CloudEvents array")


def _legacy(notification: dict[str, Any]) -> list[ChangeEvent]:
    realm = str(notification["realmId"])
    out = []
    for entity in notification["dataChangeEvent"]["entities"]:
        kind = KINDS.get(str(entity["name"]).lower())
        if kind is None:
            continue
        out.append(ChangeEvent(platform=Platform.QBO, tenant_remote_id=realm, kind=kind,
                               entity_id=str(entity["id"]),
                               operation=_operation(str(entity["operation"])),
                               occurred_at=_time(entity.get("lastUpdated"))))
    return out


def _cloud_event(event: dict[str, Any]) -> ChangeEvent | None:
    # type is "qbo.<entity>.<operation>.v1"
    parts = str(event["type"]).split(".")
    if len(parts) < 3 or parts[0] != "qbo":
        raise ValueError(f"unexpected CloudEvent type {event['type']!r}")
    kind = KINDS.get(parts[1].lower())
    if kind is None:
        return None
    return ChangeEvent(platform=Platform.QBO, tenant_remote_id=str(event["intuitaccountid"]), kind=kind,
                       entity_id=str(event["intuitentityid"]), operation=_operation(parts[2]),
                       occurred_at=_time(event.get("time")))


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    # CloudEvents carry nanoseconds; Python keeps microseconds.
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        text = f"{head}.{digits[:6]}{tail[len(digits):]}"
    return datetime.fromisoformat(text)
