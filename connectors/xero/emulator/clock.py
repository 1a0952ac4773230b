"""Time and identity the emulator controls: an adjustable clock, and ids derived from the seed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall clock with an adjustable offset so tests can make tokens expire without sleeping."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        """The emulator's current time (UTC, millisecond precision)."""
        # Millisecond precision: that is all /Date(ms)/ carries, so If-Modified-Since round-trips.
        moment = datetime.now(UTC) + self.offset
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self.offset += timedelta(seconds=seconds)


def stable_id(seed: int, kind: str, local_id: str) -> str:
    """A UUID derived from the seed, so the same seed gives the same ids on every run."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cashline-xero-emulator/{seed}/{kind}/{local_id}"))
