"""Outbound QBO webhooks: batched change events, legacy or CloudEvents format, ``intuit-signature``.

Real QBO aggregates events for 1-5 minutes and retries failed deliveries at 0 s, 10 s, 20 s, 30 s,
5 m, 20 m, 2 h, 4 h and 6 h. The emulator keeps both schedules but scales them (``time_scale``) so a
test can watch batching and retries happen in milliseconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from connectors.sandbox.webhooks import WebhookSender

RETRY_SCHEDULE = (0.0, 10.0, 20.0, 30.0, 300.0, 1200.0, 7200.0, 14400.0, 21600.0)
BATCH_SECONDS = 60.0
ENTITIES = ("Invoice", "Payment", "CreditMemo", "Customer")
LEGACY, CLOUDEVENTS = "legacy", "cloudevents"
_PAST = {"Create": "created", "Update": "updated", "Delete": "deleted", "Void": "voided", "Merge": "merged"}


def sign(body: bytes, verifier_token: str) -> str:
    """``intuit-signature``: base64(HMAC-SHA256(verifier token, raw body))."""
    return base64.b64encode(hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Event:
    realm_id: str
    entity: str
    entity_id: str
    operation: str  # Create | Update | Delete | Void | Merge
    when: datetime


def legacy_body(events: list[Event]) -> bytes:
    """``{"eventNotifications": [...]}``: one notification per realm."""
    realms: dict[str, list[Event]] = {}
    for event in events:
        realms.setdefault(event.realm_id, []).append(event)
    notes = [{"realmId": realm, "dataChangeEvent": {"entities": [
        {"name": e.entity, "id": e.entity_id, "operation": e.operation,
         "lastUpdated": e.when.isoformat(timespec="milliseconds").replace("+00:00", "Z")} for e in evs]}}
        for realm, evs in realms.items()]
    return json.dumps({"eventNotifications": notes}).encode()


def cloudevents_body(events: list[Event]) -> bytes:
    """A JSON array of CloudEvents 1.0 (``qbo.<entity>.<operation>.v1``); realms may be mixed."""
    return json.dumps([{
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": "intuit.cashline-emulator",
        "type": f"qbo.{e.entity.lower()}.{_PAST.get(e.operation, e.operation.lower())}.v1",
        "datacontenttype": "application/json",
        "time": e.when.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "intuitentityid": e.entity_id, "intuitaccountid": e.realm_id, "data": {},
    } for e in events]).encode()


@dataclass
class WebhookNotifier:
    """Collects change events and POSTs them in batches to one endpoint."""

    url: str
    verifier_token: str
    payload_format: str = LEGACY
    time_scale: float = 1.0
    batch_seconds: float | None = None  # aggregation window; default BATCH_SECONDS * time_scale
    pending: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.payload_format not in (LEGACY, CLOUDEVENTS):
            raise ValueError(f"webhook format must be {LEGACY!r} or {CLOUDEVENTS!r}")
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self.sender = WebhookSender(sign=lambda body: {"intuit-signature": sign(body, self.verifier_token)},
                                    schedule=tuple(d * self.time_scale for d in RETRY_SCHEDULE))

    def record(self, realm_id: str, entity: str, entity_id: str, operation: str, when: datetime) -> None:
        """Queue one change; the first change of a batch starts the aggregation timer."""
        if entity not in ENTITIES:
            return
        with self._lock:
            self.pending.append(Event(realm_id, entity, entity_id, operation, when))
            if self._timer is None:
                window = BATCH_SECONDS * self.time_scale if self.batch_seconds is None else self.batch_seconds
                self._timer = threading.Timer(window, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Send whatever is pending now, as one delivery."""
        with self._lock:
            events, self.pending = self.pending, []
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None
        if events:
            body = legacy_body(events) if self.payload_format == LEGACY else cloudevents_body(events)
            self.sender.send(self.url, body)

    def drain(self, timeout: float = 10.0) -> bool:
        """Flush and wait until every delivery has succeeded or been given up on."""
        self.flush()
        return self.sender.drain(timeout)

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None
        self.sender.close()
