"""The tenant pages as a user meets them: odd URLs, empty tenants, titles and navigation (Flask test client)."""

from __future__ import annotations

import pytest

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
