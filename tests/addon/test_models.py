from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from addon.extensions import get_for_tenant
from addon.models import AuditLog, Customer, DunningAction, Invoice
from addon.models.audit import AuditLogIsAppendOnly


def _invoice(tenant, **kw):
    values = dict(tenant_id=tenant.id, remote_id="inv-1", number="INV-1", currency="GBP",
                  issue_date=date(2026, 1, 1), due_date=date(2026, 1, 31), total=Decimal("100.10"),
                  amount_due=Decimal("100.10"), status="open")
    values.update(kw)
    return Invoice(**values)


def test_money_round_trips_as_exact_decimal(db, make_tenant) -> None:
    tenant = make_tenant()
    db.add(_invoice(tenant, total=Decimal("1234567.89"), amount_due=Decimal("0.10")))
    db.commit()
    db.expire_all()
    inv = db.query(Invoice).one()
    assert isinstance(inv.total, Decimal)
    assert inv.total == Decimal("1234567.89")
    assert inv.amount_due + Decimal("0.20") == Decimal("0.30")


def test_datetimes_come_back_timezone_aware(db, make_tenant) -> None:
    tenant = make_tenant()
    stamp = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    db.add(Customer(tenant_id=tenant.id, remote_id="c1", name="Acme", remote_updated_at=stamp))
    db.commit()
    db.expire_all()
    assert db.query(Customer).one().remote_updated_at == stamp


def test_naive_datetimes_are_refused(db, make_tenant) -> None:
    tenant = make_tenant()
    db.add(Customer(tenant_id=tenant.id, remote_id="c1", name="Acme", remote_updated_at=datetime(2026, 1, 1)))
    with pytest.raises(Exception, match="naive datetime"):
        db.flush()
    db.rollback()


def test_remote_ids_are_unique_per_tenant_only(db, make_tenant) -> None:
    a, b = make_tenant(), make_tenant()
    db.add_all([_invoice(a), _invoice(b)])
    db.flush()
    db.add(_invoice(a, number="dup"))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()


def test_get_for_tenant_never_crosses_tenants(db, make_tenant) -> None:
    a, b = make_tenant(), make_tenant()
    inv = _invoice(a)
    db.add(inv)
    db.flush()
    assert get_for_tenant(db, Invoice, inv.id, a.id) is inv
    assert get_for_tenant(db, Invoice, inv.id, b.id) is None


def test_dunning_stage_fires_once_per_invoice_and_stage(db, make_tenant) -> None:
    tenant = make_tenant()
    fields = dict(tenant_id=tenant.id, exactly_once_key="inv-1:stage-0", stage_key="stage-0", tone="friendly",
                  channel="email", status="sent")
    db.add(DunningAction(**fields))
    db.flush()
    db.add(DunningAction(**fields))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()


def test_audit_log_is_append_only(db, make_tenant) -> None:
    tenant = make_tenant()
    db.commit()
    entry = AuditLog(tenant_id=tenant.id, actor="system", action="payment.posted", object_type="invoice",
                     object_id="inv-1", before={"amount_due": "10.00"}, after={"amount_due": "0.00"})
    db.add(entry)
    db.flush()
    entry.reason = "tampering"
    with pytest.raises(AuditLogIsAppendOnly):
        db.flush()
    db.rollback()
    db.add(entry2 := AuditLog(tenant_id=tenant.id, actor="system", action="x", object_type="t", object_id="1"))
    db.flush()
    db.delete(entry2)
    with pytest.raises(AuditLogIsAppendOnly):
        db.flush()
    db.rollback()
