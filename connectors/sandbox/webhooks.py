"""Outbound webhook delivery for the emulators: signed POSTs, retried on failure with back-off.

Each platform supplies the signer and its retry schedule; delivery runs on a background thread so
the API request that caused the change is not slowed down, as with the real services.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import requests

logger = logging.getLogger(__name__)


@dataclass
class DeliveryAttempt:
    url: str
    status: int | None
    error: str | None
    at: float


@dataclass
class WebhookSender:
    """Deliver ``body`` to ``url`` with ``sign(body) -> headers``; retry per ``schedule`` (seconds)."""

    sign: Callable[[bytes], dict[str, str]]
    schedule: Sequence[float] = (0, 1, 2, 5)
    timeout: float = 5.0
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    delivered: list[bytes] = field(default_factory=list)
    failed: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
        self._thread.start()

    def send(self, url: str, body: bytes) -> None:
        self._queue.put((url, body))

    def send_now(self, url: str, body: bytes, headers: dict[str, str] | None = None) -> int | None:
        """One synchronous attempt (used for intent-to-receive probes); returns the HTTP status."""
        all_headers = {"Content-Type": "application/json", **self.sign(body), **(headers or {})}
        try:
            resp = self._session.post(url, data=body, headers=all_headers, timeout=self.timeout)
        except requests.RequestException as exc:
            self.attempts.append(DeliveryAttempt(url, None, str(exc), time.time()))
            return None
        self.attempts.append(DeliveryAttempt(url, resp.status_code, None, time.time()))
        return resp.status_code

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far has been delivered or given up on."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._deliver(*item)
            finally:
                self._queue.task_done()

    def _deliver(self, url: str, body: bytes) -> None:
        for delay in self.schedule:
            time.sleep(delay)
            status = self.send_now(url, body)
            if status is not None and 200 <= status < 300:
                self.delivered.append(body)
                return
            logger.info("webhook delivery to %s failed (status %s); will retry", url, status)
        self.failed.append(body)
