"""Webhook subscription for the emulated organisation: signed batches and the intent-to-receive probe.

Changes made while handling one API request are collected and delivered as one batch when the request
ends, like Xero's short aggregation window, on a background thread so API responses never wait for the
receiver. Nothing is delivered until the receiver has passed the intent-to-receive check (200 for the
correctly signed probe, 401 for the deliberately mis-signed one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import queue
import secrets
import string
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import simplejson

from connectors.sandbox.webhooks import WebhookSender
from connectors.xero.emulator.store import OrgStore

logger = logging.getLogger(__name__)

WEBHOOK_CATEGORIES = ("CONTACT", "INVOICE", "CREDITNOTE")
_RESOURCES = {"CONTACT": "Contacts", "INVOICE": "Invoices", "CREDITNOTE": "CreditNotes"}
# Xero retries "with decreasing frequency for up to 24 hours"; the CLI uses this, tests pass a short one.
DEFAULT_SCHEDULE: tuple[float, ...] = (0, 10, 60, 300, 1800, 3600, 6 * 3600)


def sign(key: str, body: bytes) -> str:
    """``x-xero-signature``: base64(HMAC-SHA256(webhook key as UTF-8, raw body))."""
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def _entropy() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(20))


class WebhookHub:
    """One app's subscription to the organisation's events."""

    def __init__(self, store: OrgStore, url: str | None = None, key: str | None = None,
                 schedule: Sequence[float] = DEFAULT_SCHEDULE) -> None:
        self.store = store
        self.url, self.key = url, key or ""
        self.status = "PENDING" if url else "NONE"  # PENDING -> OK | FAILED (intent to receive)
        self.sequence = 0
        self.sent_batches: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.sender = WebhookSender(sign=lambda body: {"x-xero-signature": sign(self.key, body)},
                                    schedule=tuple(schedule)) if url else None
        self._batches: queue.Queue[list[dict[str, Any]] | None] = queue.Queue()
        if self.sender is not None:
            threading.Thread(target=self._run, name="xero-webhook-hub", daemon=True).start()
        store.listeners.append(self.record)

    def record(self, category: str, resource_id: str, event_type: str) -> None:
        """Store listener: queue an event for the next batch."""
        if self.sender is None or category not in WEBHOOK_CATEGORIES:
            return
        event: dict[str, Any] = {"resourceId": resource_id, "eventDateUtc": _event_time(self.store.clock.now()),
                                 "eventType": event_type, "eventCategory": category,
                                 "tenantId": self.store.tenant_id, "tenantType": "ORGANISATION"}
        if category == "CREDITNOTE":
            note = self.store.credit_notes[resource_id]
            event["data"] = {"Type": "ACCRECCREDIT", "Status": note.status}
        with self._lock:
            self._pending.append(event)

    def flush(self, api_root: str) -> None:
        """Hand everything queued to the delivery thread as one batch; the API response never waits."""
        with self._lock:
            events, self._pending = self._pending, []
        if not events or self.sender is None:
            return
        for event in events:
            event["resourceUrl"] = f"{api_root}/{_RESOURCES[event['eventCategory']]}/{event['resourceId']}"
        self._batches.put(events)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every flushed batch has been delivered, given up on or dropped (tests)."""
        deadline = time.monotonic() + timeout
        while self._batches.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        remaining = max(0.0, deadline - time.monotonic())
        return not self._batches.unfinished_tasks and (self.sender is None or self.sender.drain(remaining))

    def _run(self) -> None:
        while True:
            events = self._batches.get()
            try:
                if events is None:
                    return
                self._deliver(events)
            finally:
                self._batches.task_done()

    def _deliver(self, events: list[dict[str, Any]]) -> None:
        # Xero only delivers to a receiver that has passed intent-to-receive; a failed one is re-probed
        # at the next batch, and the events in between are lost (as when Xero disables a webhook).
        if self.sender is None or self.url is None:
            return
        if self.status != "OK" and not self.intent_to_receive():
            logger.info("webhook receiver %s failed intent-to-receive; %d events dropped", self.url, len(events))
            return
        with self._lock:
            first = self.sequence + 1
            self.sequence += len(events)
            batch = {"events": events, "firstEventSequence": first, "lastEventSequence": self.sequence,
                     "entropy": _entropy()}
            self.sent_batches.append(batch)
        self.sender.send(self.url, simplejson.dumps(batch).encode())

    def intent_to_receive(self) -> bool:
        """Send Xero's ITR probes: the signed one must get 200 and the mis-signed one 401."""
        if self.sender is None or self.url is None:
            return False
        body = simplejson.dumps({"events": [], "firstEventSequence": 0, "lastEventSequence": 0,
                                 "entropy": _entropy()}).encode()
        good = self.sender.send_now(self.url, body)
        bad_sig = sign(self.key + "-wrong", body)
        bad = self.sender.send_now(self.url, body, headers={"x-xero-signature": bad_sig})
        self.status = "OK" if (good == 200 and bad == 401) else "FAILED"
        return self.status == "OK"

    def close(self) -> None:
        """Stop the delivery threads."""
        if self.sender is not None:
            self._batches.put(None)
            self.sender.close()


def _event_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
