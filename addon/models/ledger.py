"""Mirror of the ERP's receivables ledger: only what Cashline needs, refreshed by sync.

The ERP is the system of record; these rows are a cache keyed by the platform's own ids
(``remote_id``) and are overwritten by every sync. Money columns are NUMERIC with a currency.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from addon.models.base import Base, TenantScoped, TimestampMixin


class Customer(TenantScoped, TimestampMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("tenant_id", "remote_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remote_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    emails: Mapped[list[Any]] = mapped_column(default=list)
    currency: Mapped[str | None] = mapped_column(String(3))
    bank_accounts: Mapped[list[Any]] = mapped_column(default=list)
    timezone: Mapped[str | None] = mapped_column(String(64))
    # E.164 (at most 15 digits and the "+"); None when the platform has none or it could not be read.
    mobile: Mapped[str | None] = mapped_column(String(16))
    # ISO 3166 alpha-2 from the platform's address (Xero Addresses[].Country, QBO BillAddr.Country); None when
    # it has none or it cannot be read. Dunning skips this country's public holidays too.
    country: Mapped[str | None] = mapped_column(String(2))
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    remote_updated_at: Mapped[datetime | None]


class Invoice(TenantScoped, TimestampMixin, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("tenant_id", "remote_id"),
        Index("ix_invoices_tenant_status_due", "tenant_id", "status", "due_date"),
        Index("ix_invoices_tenant_status_currency", "tenant_id", "status", "currency"),  # dashboard: currencies
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remote_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"),
                                                    index=True)
    number: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date]
    due_date: Mapped[date]
    total: Mapped[Decimal]
    amount_due: Mapped[Decimal]
    amount_paid: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    amount_credited: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    # Units of the tenant's home currency per 1 unit of ``currency``, as the platform recorded it on the
    # invoice (addon.domain.types.Invoice.home_rate); None when it gave none. Ten places: a JPY invoice in
    # a GBP book has a rate near 0.005.
    home_rate: Mapped[Decimal | None] = mapped_column(Numeric(24, 10, asdecimal=True))
    status: Mapped[str] = mapped_column(String(10))  # addon.domain.types.InvoiceStatus values
    sent: Mapped[bool] = mapped_column(Boolean, default=False)
    fully_paid_on: Mapped[date | None]
    billing_email: Mapped[str | None] = mapped_column(String(320))
    online_url: Mapped[str | None] = mapped_column(String(1000))
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)  # a dispute is open now
    disputed_on: Mapped[date | None]  # when a user recorded the (latest) dispute; kept once it is resolved
    dispute_resolved_on: Mapped[date | None]  # when that dispute was resolved (None while it is open)
    promised_on: Mapped[date | None]  # promise-to-pay date recorded by a user
    promise_recorded_on: Mapped[date | None]  # when that promise was recorded
    remote_updated_at: Mapped[datetime | None]

    customer: Mapped[Customer | None] = relationship()


class Payment(TenantScoped, TimestampMixin, Base):
    __tablename__ = "payments"
    # (tenant_id, date): the dashboard's payments since the start of DSO's period
    __table_args__ = (UniqueConstraint("tenant_id", "remote_id"), Index("ix_payments_tenant_date", "tenant_id", "date"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remote_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    date: Mapped[date]
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    unapplied_amount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    reference: Mapped[str | None] = mapped_column(String(255))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    remote_updated_at: Mapped[datetime | None]

    allocations: Mapped[list[PaymentAllocation]] = relationship(cascade="all, delete-orphan")


class PaymentAllocation(TenantScoped, Base):
    __tablename__ = "payment_allocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"), index=True)
    invoice_remote_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))


class CreditNote(TenantScoped, TimestampMixin, Base):
    __tablename__ = "credit_notes"
    __table_args__ = (UniqueConstraint("tenant_id", "remote_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remote_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    date: Mapped[date]
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal]
    remaining: Mapped[Decimal]
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(String(255))
    remote_updated_at: Mapped[datetime | None]

    allocations: Mapped[list[CreditAllocation]] = relationship(cascade="all, delete-orphan")


class CreditAllocation(TenantScoped, Base):
    __tablename__ = "credit_allocations"
    __table_args__ = (Index("ix_credit_allocations_tenant_source", "tenant_id", "source_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_note_id: Mapped[int] = mapped_column(ForeignKey("credit_notes.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"), index=True)
    invoice_remote_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    # When the credit was applied, when the platform records it apart from the note's date (QBO: the applying
    # Payment's TxnDate); None means the note's own date.
    applied_on: Mapped[date | None]
    # The platform document that applied it (QBO: the Payment's Id), by which a later sync replaces or
    # drops it; None when the allocation belongs to the note itself (Xero).
    source_id: Mapped[str | None] = mapped_column(String(64))
