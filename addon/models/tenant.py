"""Tenants (one per Xero organisation / QBO realm), their OAuth connection, users and memberships."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from addon.models.base import Base, TenantScoped, TimestampMixin


class TenantStatus(enum.StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    NEEDS_REAUTH = "needs_reauth"


class Role(enum.StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Store the values ('connected'), not the names, and as VARCHAR + CHECK so SQLite and PG agree.
    return Enum(cls, name=name, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e],
                validate_strings=True, create_constraint=True)


class Tenant(TimestampMixin, Base):
    __tablename__ = "tenants"
    __table_args__ = (UniqueConstraint("platform", "remote_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(10))  # 'xero' | 'qbo' | 'fake'
    remote_id: Mapped[str] = mapped_column(String(64))  # Xero tenantId / QBO realmId
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[TenantStatus] = mapped_column(_enum(TenantStatus, "tenant_status"),
                                                 default=TenantStatus.CONNECTED)
    base_currency: Mapped[str | None] = mapped_column(String(3))
    # ISO 3166 alpha-2, as the platform reports it (Xero Organisation.CountryCode, QBO CompanyInfo.Country),
    # read at each full sync; the default region of the public holidays that stop dunning.
    country: Mapped[str | None] = mapped_column(String(2))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_synced_at: Mapped[datetime | None]
    # The last time its own model was trained (the tenant's scoring day) and how that ended: 'activated',
    # 'forced', 'rejected' (the quality gate kept the active model) or 'not_enough_history'. Without it a
    # tenant whose training cannot succeed or is rejected looks stale again on every scoring run.
    model_attempted_on: Mapped[date | None]
    model_attempt: Mapped[str | None] = mapped_column(String(20))

    connection: Mapped[Connection | None] = relationship(back_populates="tenant", uselist=False,
                                                         cascade="all, delete-orphan")


class Connection(TenantScoped, TimestampMixin, Base):
    """OAuth tokens for one tenant, encrypted at rest (see addon.security.tokens)."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    access_token_enc: Mapped[bytes] = mapped_column(LargeBinary)
    refresh_token_enc: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime]
    refresh_expires_at: Mapped[datetime | None]
    scopes: Mapped[str] = mapped_column(String(1000), default="")
    remote_connection_id: Mapped[str | None] = mapped_column(String(64))  # Xero /connections id

    tenant: Mapped[Tenant] = relationship(back_populates="connection")


class User(TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))  # OpenID issuer (Xero / Intuit)
    subject: Mapped[str] = mapped_column(String(255))  # OpenID 'sub'
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(255))


class Membership(TenantScoped, TimestampMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "membership_role"), default=Role.VIEWER)
