"""Dunning policies, their ordered stages, and the actions taken (exactly once per invoice+stage)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from addon.models.base import Base, TenantScoped, TimestampMixin


class DunningPolicy(TenantScoped, TimestampMixin, Base):
    __tablename__ = "dunning_policies"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    segment: Mapped[dict[str, Any]] = mapped_column(default=dict)  # which customers it applies to
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # frequency cap, quiet hours, packs

    stages: Mapped[list[DunningStage]] = relationship(order_by="DunningStage.position",
                                                      cascade="all, delete-orphan")


class DunningStage(TenantScoped, TimestampMixin, Base):
    __tablename__ = "dunning_stages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("dunning_policies.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))  # stable id used in exactly-once keys
    position: Mapped[int] = mapped_column(Integer)
    offset_days: Mapped[int] = mapped_column(Integer)  # relative to due date; negative = before
    tone: Mapped[str] = mapped_column(String(10))  # friendly | firm | urgent | final
    channel: Mapped[str] = mapped_column(String(10))  # email | task | sms
    subject_template: Mapped[str] = mapped_column(Text, default="")
    body_template: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(10), default="en")
    min_amount: Mapped[Decimal | None]
    risk_bands: Mapped[list[Any]] = mapped_column(default=list)  # empty = all bands
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    # The engine's Stage flags: statutory claims on this stage; reliable payers skip it.
    show_statutory: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    skip_for_reliable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class DunningAction(TenantScoped, TimestampMixin, Base):
    """One planned or performed reminder. ``exactly_once_key`` (invoice+stage) is unique in the
    database, so a retried or caught-up run can never send the same stage twice."""

    __tablename__ = "dunning_actions"
    __table_args__ = (UniqueConstraint("tenant_id", "exactly_once_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exactly_once_key: Mapped[str] = mapped_column(String(200))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    stage_key: Mapped[str] = mapped_column(String(40))
    tone: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(10))
    # planned|awaiting_approval|approved|sending|retry|sent|failed|task|skipped|cancelled (see dunning_retries)
    status: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str | None] = mapped_column(String(320))
    message_id: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(Text)
    send_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    # Send attempts the mail server answered "try later" to (or refused); a ``retry`` row waits for retry_at.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retry_at: Mapped[datetime | None]


class Suppression(TenantScoped, TimestampMixin, Base):
    """Addresses that must not be mailed (unsubscribed or hard-bounced) and mobile numbers (E.164) that must
    not be texted (replied STOP, or refused as invalid by the SMS provider)."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("tenant_id", "channel", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))  # email | sms
    address: Mapped[str] = mapped_column(String(320))  # an e-mail address (email) or an E.164 number (sms)
    reason: Mapped[str] = mapped_column(String(40))  # unsubscribed | hard_bounce | sms_stop | sms_invalid


class DunningHold(TenantScoped, TimestampMixin, Base):
    """A credit controller paused chasing one customer (payment plan agreed, key account, in legal hands):
    no reminders of any channel while it applies, i.e. until ``until`` (the tenant's date, inclusive) has
    passed, or until lifted (the row is deleted; the audit log keeps its history)."""

    __tablename__ = "dunning_holds"
    __table_args__ = (UniqueConstraint("tenant_id", "customer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(200))
    until: Mapped[date | None]
    set_by: Mapped[str] = mapped_column(String(255))  # the audit actor, e.g. 'user:12'
    set_at: Mapped[datetime]
