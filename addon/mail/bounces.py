"""Bounce classification: hard bounces suppress the address, soft bounces are retried later."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
# Enhanced codes that say "try later" even with a 5: mailbox full (RFC 3463 X.2.2 is transient in practice).
_SOFT_PERMANENT = {"5.2.2"}
_HARD_TEXT = re.compile(r"user unknown|no such (user|mailbox)|does not exist|unknown recipient|"
                        r"invalid (recipient|mailbox|address)|address rejected|mailbox unavailable", re.I)


class BounceKind(enum.StrEnum):
    HARD = "hard"  # the address will never work: suppress it
    SOFT = "soft"  # temporary (full mailbox, greylisting, server down): retry later


@dataclass(frozen=True, slots=True)
class BounceReport:
    recipient: str
    status: str | None
    diagnostic: str
    kind: BounceKind


def classify_bounce(code: int | None, text: str = "", enhanced: str | None = None) -> BounceKind:
    """Classify an SMTP reply (or DSN status): 5xx/5.x.x is hard except mailbox-full; 4xx is soft."""
    status = enhanced or _find_enhanced(text)
    if status:
        if status in _SOFT_PERMANENT or status.startswith("4"):
            return BounceKind.SOFT
        if status.startswith("5"):
            return BounceKind.HARD
    if code is not None:
        if code == 552:  # "exceeded storage allocation": the mailbox is full, not gone
            return BounceKind.SOFT
        if 500 <= code < 600:
            return BounceKind.HARD
        if 400 <= code < 500:
            return BounceKind.SOFT
    # No code at all: only clear wording suppresses; an unclear bounce is retried, not suppressed.
    return BounceKind.HARD if _HARD_TEXT.search(text) else BounceKind.SOFT


def parse_dsn(raw: bytes) -> list[BounceReport]:
    """Per-recipient results of an RFC 3464 delivery status notification (failed recipients only)."""
    msg = message_from_bytes(raw, policy=policy.compat32)
    reports: list[BounceReport] = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        for block in blocks[1:] if isinstance(blocks, list) else []:  # block 0 is per-message fields
            report = _recipient_report(block) if isinstance(block, Message) else None
            if report is not None:
                reports.append(report)
    return reports


def _recipient_report(block: Message) -> BounceReport | None:
    action = str(block.get("Action", "")).strip().lower()
    if action not in ("failed", "delayed"):
        return None
    recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
    recipient = recipient.split(";", 1)[-1].strip()
    status = str(block.get("Status", "")).strip() or None
    diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
    kind = BounceKind.SOFT if action == "delayed" else classify_bounce(_code(diagnostic), diagnostic, status)
    return BounceReport(recipient, status, diagnostic, kind)


def _find_enhanced(text: str) -> str | None:
    match = _ENHANCED.search(text)
    return ".".join(match.groups()) if match else None


def _code(diagnostic: str) -> int | None:
    match = re.search(r"\b([245]\d\d)\b", diagnostic)
    return int(match.group(1)) if match else None
