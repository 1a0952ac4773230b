"""Imported bank statements, their lines, proposed/confirmed matches and learned payer aliases."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from addon.models.base import Base, TenantScoped, TimestampMixin


class BankStatement(TenantScoped, TimestampMixin, Base):
    __tablename__ = "bank_statements"
    __table_args__ = (UniqueConstraint("tenant_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the normalised content
    filename: Mapped[str | None] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(10))
    account: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str | None] = mapped_column(String(3))
    line_count: Mapped[int] = mapped_column(Integer, default=0)

    lines: Mapped[list[BankLine]] = relationship(cascade="all, delete-orphan")


class BankLine(TenantScoped, TimestampMixin, Base):
    __tablename__ = "bank_lines"
    __table_args__ = (UniqueConstraint("tenant_id", "dedupe_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("bank_statements.id", ondelete="CASCADE"), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(64))
    booking_date: Mapped[date]
    value_date: Mapped[date | None]
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    counterparty_name: Mapped[str | None] = mapped_column(String(255))
    counterparty_account: Mapped[str | None] = mapped_column(String(64))
    end_to_end_id: Mapped[str | None] = mapped_column(String(255))
    structured_reference: Mapped[str | None] = mapped_column(String(255))
    remittance_text: Mapped[str | None] = mapped_column(Text)
    bank_reference: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default="new")  # new|matched|exception|reconciled|ignored
    # The bank reverses or returns an earlier booking (camt RvslInd, MT940 RC/RD, BAI2 return codes), and
    # the bank's return reason when it gives one: money out that may undo a payment we posted.
    reversal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    return_reason: Mapped[str | None] = mapped_column(String(64))
    # The posted incoming line this reversal takes back (set when it is flagged for a human).
    reverses_line_id: Mapped[int | None] = mapped_column(ForeignKey("bank_lines.id", ondelete="SET NULL"))


class Match(TenantScoped, TimestampMixin, Base):
    """The engine's decision for a line, and what was posted for it (idempotently)."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("bank_line_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_line_id: Mapped[int] = mapped_column(ForeignKey("bank_lines.id", ondelete="CASCADE"))
    decision: Mapped[str] = mapped_column(String(10))  # auto | suggest | none
    confidence: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    allocations: Mapped[list[Any]] = mapped_column(default=list)  # [{invoice_id, amount}]
    suggestions: Mapped[list[Any]] = mapped_column(default=list)
    explanation: Mapped[str] = mapped_column(Text, default="")
    residual: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="proposed")  # proposed|confirmed|rejected|posted|held
    posted_payment_ids: Mapped[list[Any]] = mapped_column(default=list)
    posted_at: Mapped[datetime | None]
    # Set and committed right before the first platform call for this match, with the idempotency key
    # sent: a retry then knows whether the platform may already hold our payment (re-send the same key)
    # or whether a changed amount due was recorded by someone else (do not post).
    attempt_key: Mapped[str | None] = mapped_column(String(64))
    attempt_started_at: Mapped[datetime | None]
    # How often the platform refused this match's payment outright (nothing saved): each later attempt
    # sends a fresh idempotency key, as the refused one may be answered by replaying the refusal.
    platform_refusals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The same per part of a posting refused after other parts were saved ({"-overpayment": 1}, {":1": 1},
    # {"-credit": 1}): a retry keeps the saved parts' keys (replayed) and sends a fresh key for those only.
    part_refusals: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class PayerAlias(TenantScoped, TimestampMixin, Base):
    """Learned from confirmations: this payer name/account pays for that customer."""

    __tablename__ = "payer_aliases"
    __table_args__ = (UniqueConstraint("tenant_id", "alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alias: Mapped[str] = mapped_column(String(255))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    confirmed: Mapped[bool] = mapped_column(Boolean, default=True)
