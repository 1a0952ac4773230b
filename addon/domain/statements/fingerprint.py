"""Stable hashes so the import layer can skip files and lines it has already imported."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from decimal import Decimal

from addon.domain.statements.model import ParsedStatement
from addon.domain.types import BankLine

_TEXT_FIELDS = (
    "counterparty_name", "counterparty_account", "end_to_end_id", "structured_reference",
    "remittance_text", "bank_reference",
)


def line_identity(line: BankLine, account: str | None = None) -> dict[str, str]:
    """The fields that identify a booked line, as canonical strings (not the free-form extras)."""
    identity = {
        "account": account or line.extra.get("account", ""),
        "booking_date": line.booking_date.isoformat(),
        "value_date": line.value_date.isoformat() if line.value_date else "",
        # normalize() so 5.0 and 5.00 (different exports of the same booking) hash alike
        "amount": format(line.amount.normalize() if line.amount else Decimal(0), "f"),
        "currency": line.currency.upper(),
        "reversal": "1" if line.reversal else "",
    }
    for name in _TEXT_FIELDS:
        value = getattr(line, name)
        identity[name] = " ".join(value.split()).casefold() if value else ""
    return identity


def line_dedupe_key(line: BankLine, *, account: str | None = None, occurrence: int = 0) -> str:
    """sha256 of a line's identity; ``occurrence`` tells apart identical bookings in one statement."""
    return _dedupe_key(line_identity(line, account), occurrence)


def dedupe_keys(statement: ParsedStatement) -> list[str]:
    """One key per line, in order; the n-th identical line of a file always gets the same key."""
    seen: Counter[tuple[tuple[str, str], ...]] = Counter()
    keys = []
    for line in statement.lines:
        identity = line_identity(line, statement.account)
        # Lines are identical when their identities are (all canonical strings): count them by the
        # identity itself, so each line's identity is built and hashed once.
        same = tuple(sorted(identity.items()))
        keys.append(_dedupe_key(identity, seen[same]))
        seen[same] += 1
    return keys


def _dedupe_key(identity: dict[str, str], occurrence: int) -> str:
    return _sha256({**identity, "occurrence": str(occurrence)})


def statement_fingerprint(statement: ParsedStatement) -> str:
    """sha256 of the normalised content: re-exports of the same statement hash alike."""
    payload = {
        "account": statement.account or "",
        "currency": statement.currency or "",
        "opening": _money(statement.opening_balance),
        "closing": _money(statement.closing_balance),
        "lines": [line_identity(line, statement.account) for line in statement.lines],
    }
    return _sha256(payload)


def content_fingerprint(data: bytes) -> str:
    """sha256 of the raw bytes (byte-identical uploads), cheaper than parsing."""
    return hashlib.sha256(data).hexdigest()


def _money(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def _sha256(payload: object) -> str:
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()
