"""Declarative base, column types and mixins shared by every model."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, MetaData, Numeric, TypeDecorator, func
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

# Deterministic constraint names so Alembic autogenerate and downgrades are stable on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend: stored as UTC, returned aware (SQLite drops tz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """Exact money, never float: NUMERIC(18, 3), so three-decimal currencies (KWD, BHD, JOD, OMR, TND)
    keep their last digit. Read back with two decimals whenever the third is zero, so amounts in
    two- and zero-decimal currencies read as they always did (``1200.00``), and ``12.345`` stays."""

    impl = Numeric(18, 3, asdecimal=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        amount = Decimal(value)
        cents = amount.quantize(_CENT)
        return cents if cents == amount else amount


_CENT = Decimal("0.01")
JSONType = JSON().with_variant(JSON(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(), Decimal: Money(), dict[str, Any]: JSON, list[Any]: JSON,
    }


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow,
                                                 server_default=func.now())


class TenantScoped:
    """Every tenant-owned row carries ``tenant_id``; queries go through ``get_for_tenant``."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:  # noqa: N805 - SQLAlchemy declared_attr convention
        return mapped_column(Integer, ForeignKey("tenants.id", ondelete="CASCADE"), index=True,
                             nullable=False)
