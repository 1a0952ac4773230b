"""The dunning settings page of a tenant with thousands of customers: customers are put on a policy by
typing them (checked on the server), not picked from a list of every customer, and the dry run lists a
capped number of actions with the count of all of them."""

from __future__ import annotations

import re
from datetime import date

import pytest
import time_machine

from addon.models import Customer, Role
from addon.services.dunning_policies import ensure_default_policy
from tests.addon.helpers import insert_big_ledger

CUSTOMERS = 3_000


@pytest.fixture
def big(db, make_tenant, sign_in, client):  # type: ignore[no-untyped-def]
    tenant = make_tenant(name="Big Ltd")
    insert_big_ledger(db, tenant, customers=CUSTOMERS, invoices=CUSTOMERS, due=date(2026, 11, 1))
    ensure_default_policy(db, tenant)
    db.commit()
    sign_in(tenant, Role.ADMIN)
    html = client.get(f"/tenants/{tenant.id}/dunning").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post(f"/tenants/{tenant.id}/dunning/policies", data={"csrf_token": token, "name": "Strict",
                                                               "language": "en"})
    from addon.models import DunningPolicy

    policy_id = db.query(DunningPolicy.id).filter_by(tenant_id=tenant.id, name="Strict").scalar()
    return tenant, policy_id, token


def _assign(client, tenant, policy_id: int, token: str, keep: list[str], typed: str):  # type: ignore[no-untyped-def]
    return client.post(f"/tenants/{tenant.id}/dunning/policies/{policy_id}/customers",
                       data={"csrf_token": token, "customers": keep, "add_customers": typed})


def _segment(db, policy_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    from addon.models import DunningPolicy

    db.expire_all()
    return db.get(DunningPolicy, policy_id).segment["customers"]


def test_the_page_does_not_list_every_customer(client, big) -> None:
    tenant, policy_id, _ = big
    html = client.get(f"/tenants/{tenant.id}/dunning?policy={policy_id}").get_data(as_text=True)
    assert "Customer 2999" not in html
    assert html.count("<option") < 100


def test_customers_are_added_by_name_or_id_and_removed_by_unticking(client, db, big) -> None:
    tenant, policy_id, token = big
    answer = _assign(client, tenant, policy_id, token, [], "Customer 0042\n  customer 2999 \nc7\n\n")
    assert answer.status_code == 302
    assert _segment(db, policy_id) == ["c2999", "c42", "c7"]
    html = client.get(f"/tenants/{tenant.id}/dunning?policy={policy_id}").get_data(as_text=True)
    assert re.search(r'<input type="checkbox" name="customers" value="c2999" checked[^>]*>', html)
    assert "Customer 2999" in html
    assert _assign(client, tenant, policy_id, token, ["c42"], "").status_code == 302
    assert _segment(db, policy_id) == ["c42"]


def test_a_customer_that_is_not_there_or_ambiguous_is_refused_and_nothing_changes(client, db, big) -> None:
    tenant, policy_id, token = big
    db.add(Customer(tenant_id=tenant.id, remote_id="dup", name="Customer 0001"))  # two customers of one name
    db.commit()
    _assign(client, tenant, policy_id, token, [], "c5")
    typed = "Customer 0010\nNobody Ltd\nCustomer 0001"
    answer = _assign(client, tenant, policy_id, token, ["c5"], typed)
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    error = re.search(r'id="error-policy-customers">([^<]+)<', html).group(1)
    assert "no customer called &#39;Nobody Ltd&#39;" in error
    assert "2 customers are called &#39;Customer 0001&#39;" in error
    assert "Customer 0010\nNobody Ltd\nCustomer 0001</textarea>" in html  # as typed
    assert _segment(db, policy_id) == ["c5"]


def test_the_dry_run_lists_a_capped_number_of_actions_and_says_how_many(client, big) -> None:
    tenant, _, _ = big
    with time_machine.travel(date(2026, 11, 20), tick=False):
        planned = client.get(f"/api/tenants/{tenant.id}/dunning/preview").get_json()["actions"]
        assert len(planned) > 100
        html = client.get(f"/tenants/{tenant.id}/dunning").get_data(as_text=True)
    assert html.count('class="dry-run-row"') == 100
    assert f"The first 100 of {len(planned):,} planned actions" in html
