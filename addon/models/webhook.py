"""Webhook deliveries, stored verbatim before anything else happens (nothing is lost)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from addon.models.base import Base, utcnow


class WebhookStatus(enum.StrEnum):
    RECEIVED = "received"  # stored, not yet enqueued (e.g. Redis was down)
    QUEUED = "queued"
    PROCESSED = "processed"
    FAILED = "failed"  # last attempt failed; will be retried
    DEFERRED = "deferred"  # not attempted (rate limited, tenant busy): the sweeper queues it from not_before
    DEAD = "dead"  # gave up after N attempts: on the dead-letter list


class WebhookEvent(Base):
    """One signed delivery. Not tenant-scoped: a QBO CloudEvents batch can span several realms."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("platform", "dedupe_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(10))
    dedupe_key: Mapped[str] = mapped_column(String(128))  # sha256 of the raw body
    raw_body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default=WebhookStatus.RECEIVED.value, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime | None]  # last time a job was enqueued for it (stuck detection)
    processed_at: Mapped[datetime | None]
    not_before: Mapped[datetime | None]  # a DEFERRED event is not queued before this (e.g. Retry-After)
