"""The tenant pages as a user meets them: odd URLs, empty tenants, titles and navigation (Flask test client)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from addon.models import Role

HUGE = 2**70  # longer than any database id


@pytest.mark.parametrize("path", [
    "/tenants/{huge}", "/tenants/{huge}/dashboard", "/api/tenants/{huge}/worklist",
    "/tenants/{t}/dunning/stages/{huge}/edit", "/tenants/{t}/dunning/policies/{huge}/stages/new",
])
def test_an_id_too_long_for_the_database_is_not_found(client, make_tenant, sign_in, path: str) -> None:
    tenant = make_tenant()
    sign_in(tenant, Role.ADMIN)
    assert client.get(path.format(t=tenant.id, huge=HUGE)).status_code == 404


@pytest.mark.parametrize("path", [
    "/tenants/{t}/invoices/{huge}/promise", "/api/tenants/{t}/invoices/{huge}/dispute",
    "/tenants/{t}/dunning/stages/{huge}/move", "/tenants/{t}/dunning/approvals/{huge}",
    "/tenants/{t}/reconciliation/lines/{huge}/reject",
])
def test_a_post_to_an_id_too_long_for_the_database_is_not_found(app, client, make_tenant, sign_in, monkeypatch,
                                                                path: str) -> None:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    tenant = make_tenant()
    sign_in(tenant, Role.ADMIN)
    assert client.post(path.format(t=tenant.id, huge=HUGE), data={"decision": "approve"}).status_code == 404


def _tenant_in(db, make_tenant, zone: str):  # type: ignore[no-untyped-def]
    from addon.models import Customer, Invoice
    from addon.services.dunning_policies import ensure_default_policy

    tenant = make_tenant(name="Kiritimati Traders")
    ensure_default_policy(db, tenant).options = {"timezone": zone}
    customer = Customer(tenant_id=tenant.id, remote_id="c1", name="Acme")
    db.add(customer)
    db.flush()
    db.add(Invoice(tenant_id=tenant.id, remote_id="i1", number="INV-1", customer_id=customer.id, currency="GBP",
                   issue_date=date(2026, 11, 7), due_date=date(2026, 12, 7), total=Decimal("100.00"),
                   amount_due=Decimal("100.00"), status="open"))
    db.commit()
    return tenant


def test_the_dashboard_and_worklist_count_days_in_the_tenants_timezone(client, db, make_tenant, sign_in) -> None:
    # 23:30 UTC on 6 December is already 13:30 on 7 December in Kiritimati (UTC+14): the tenant's today.
    tenant = _tenant_in(db, make_tenant, "Pacific/Kiritimati")
    sign_in(tenant, Role.VIEWER)
    with time_machine.travel(datetime(2026, 12, 6, 23, 30, tzinfo=UTC), tick=False):
        assert client.get(f"/api/tenants/{tenant.id}/dashboard").get_json()["as_of"] == "2026-12-07"
        [row] = client.get(f"/api/tenants/{tenant.id}/worklist").get_json()
        assert row["days_overdue"] == 0  # due today there, not "due tomorrow"
        assert "As of 2026-12-07" in client.get(f"/tenants/{tenant.id}/dashboard").get_data(as_text=True)
