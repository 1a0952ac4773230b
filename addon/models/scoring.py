"""Risk scores per invoice and the model registry (versioned artifacts with their metrics)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, Numeric, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from addon.models.base import Base, TimestampMixin, utcnow

# At most one active model per tenant, whatever runs at once (two activations racing would otherwise leave
# two, and scoring would silently use the newer). Pooled rows have no tenant: NULLs are distinct in a unique
# index on both PostgreSQL and SQLite, so the shared pooled models are not constrained by it...
ONE_ACTIVE_MODEL_INDEX = "uq_model_versions_one_active_per_tenant"
# ...but by this one: it indexes the ``active`` flag of the active pooled rows only, so every indexed row has
# the same key (true) and a second active pooled model is refused (migration 0020).
ONE_ACTIVE_POOLED_INDEX = "uq_model_versions_one_active_pooled"
POOLED_ACTIVE = "active AND tenant_id IS NULL"


class ModelVersion(TimestampMixin, Base):
    """A trained model. ``tenant_id`` is NULL for the pooled prior used at cold start."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("version"),
                      Index(ONE_ACTIVE_MODEL_INDEX, "tenant_id", unique=True,
                            postgresql_where=text("active"), sqlite_where=text("active")),
                      Index(ONE_ACTIVE_POOLED_INDEX, "active", unique=True,
                            postgresql_where=text(POOLED_ACTIVE), sqlite_where=text(POOLED_ACTIVE)))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))  # 'pooled' | 'tenant'
    trained_from: Mapped[date | None]
    trained_to: Mapped[date | None]
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    artifact: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class RiskScore(Base):
    __tablename__ = "risk_scores"
    __table_args__ = (UniqueConstraint("invoice_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    model_version: Mapped[str] = mapped_column(String(64))
    p_late: Mapped[Decimal] = mapped_column(Numeric(6, 5))
    band: Mapped[str] = mapped_column(String(20))
    expected_pay_date: Mapped[date | None]
    p10_days: Mapped[int | None]
    p50_days: Mapped[int | None]
    p90_days: Mapped[int | None]
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)
    written_band: Mapped[str | None] = mapped_column(String(20))  # last band written back to the ERP
