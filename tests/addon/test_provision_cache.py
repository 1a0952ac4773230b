"""The dashboard's write-off provision matrix cached in Redis for the tenant's day (real database and Redis)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import redis as redis_lib

from addon.models import Customer, Invoice, Role
from addon.services import provision_cache
from addon.services.dashboard import tenant_dashboard
from tests.addon.test_dashboard import TODAY
from tests.addon.test_dashboard_write_offs import OLD_DUE, _bad_debt_ledger


def _rates(data):  # type: ignore[no-untyped-def]
    return data["write_off_rates"]


def _write_off_one_more(db, tenant, n: str = "LATE-VOID") -> None:  # type: ignore[no-untyped-def]
    """A further old invoice voided long after its due date: every bucket's rate rises when measured afresh."""
    buyer = db.query(Customer).filter_by(tenant_id=tenant.id).first()
    db.add(Invoice(tenant_id=tenant.id, remote_id=n, number=n, customer_id=buyer.id, currency="GBP",
                   issue_date=OLD_DUE - timedelta(days=30), due_date=OLD_DUE, total=Decimal("100.00"),
                   amount_due=Decimal("0"), status="voided",
                   remote_updated_at=datetime.combine(OLD_DUE + timedelta(days=200), time(12), tzinfo=UTC)))
    db.commit()


def test_the_cached_matrix_is_the_fresh_one_and_is_reused_for_the_day(db, make_tenant, redis_conn) -> None:
    tenant = _bad_debt_ledger(db, make_tenant)
    fresh = tenant_dashboard(db, tenant, TODAY)
    first = tenant_dashboard(db, tenant, TODAY, redis=redis_conn)  # measured, then stored
    assert first == fresh
    assert redis_conn.exists(provision_cache.cache_key(tenant.id))
    assert tenant_dashboard(db, tenant, TODAY, redis=redis_conn) == fresh  # read back: the same figures

    _write_off_one_more(db, tenant)
    moved = tenant_dashboard(db, tenant, TODAY)
    assert _rates(moved) != _rates(fresh)  # measured afresh, the new write-off counts
    cached = tenant_dashboard(db, tenant, TODAY, redis=redis_conn)
    assert _rates(cached) == _rates(fresh)  # the day's cached rates: the documented staleness
    # The rest of the dashboard is not cached: only the rates (and the allowance they give) are the day's.
    assert cached["currencies"]["GBP"]["allowance"] == fresh["currencies"]["GBP"]["allowance"]


def test_a_new_tenant_day_measures_again(db, make_tenant, redis_conn) -> None:
    tenant = _bad_debt_ledger(db, make_tenant)
    before = tenant_dashboard(db, tenant, TODAY, redis=redis_conn)
    _write_off_one_more(db, tenant)
    tomorrow = TODAY + timedelta(days=1)
    assert _rates(tenant_dashboard(db, tenant, tomorrow, redis=redis_conn)) == _rates(tenant_dashboard(db, tenant,
                                                                                                     tomorrow))
    assert _rates(tenant_dashboard(db, tenant, tomorrow, redis=redis_conn)) != _rates(before)
    entry = json.loads(redis_conn.get(provision_cache.cache_key(tenant.id)))
    assert entry["day"] == tomorrow.isoformat()


def test_tenants_do_not_share_a_matrix(db, make_tenant, redis_conn) -> None:
    bad = _bad_debt_ledger(db, make_tenant)
    good = make_tenant(name="Good Payers Ltd")
    db.commit()
    bad_rates = _rates(tenant_dashboard(db, bad, TODAY, redis=redis_conn))
    good_rates = _rates(tenant_dashboard(db, good, TODAY, redis=redis_conn))
    assert {r["past_invoices_written_off"] for r in good_rates} == {0}
    assert bad_rates != good_rates
    assert _rates(tenant_dashboard(db, bad, TODAY, redis=redis_conn)) == bad_rates
    assert _rates(tenant_dashboard(db, good, TODAY, redis=redis_conn)) == good_rates


def test_an_entry_left_by_another_tenant_under_the_same_id_is_not_read(db, make_tenant, redis_conn) -> None:
    # SQLite may hand a deleted tenant's id to the next one: the entry names the tenant it was measured for.
    bad = _bad_debt_ledger(db, make_tenant)
    good = make_tenant(name="Good Payers Ltd")
    db.commit()
    tenant_dashboard(db, bad, TODAY, redis=redis_conn)
    redis_conn.set(provision_cache.cache_key(good.id), redis_conn.get(provision_cache.cache_key(bad.id)))
    rates = _rates(tenant_dashboard(db, good, TODAY, redis=redis_conn))
    assert {r["past_invoices_written_off"] for r in rates} == {0}


def test_invalidation_measures_again_the_same_day(db, make_tenant, redis_conn) -> None:
    tenant = _bad_debt_ledger(db, make_tenant)
    other = _bad_debt_ledger(db, make_tenant)
    tenant_dashboard(db, tenant, TODAY, redis=redis_conn)
    other_before = tenant_dashboard(db, other, TODAY, redis=redis_conn)
    _write_off_one_more(db, tenant)
    _write_off_one_more(db, other, "OTHER-LATE-VOID")
    provision_cache.invalidate(redis_conn, tenant.id)
    assert _rates(tenant_dashboard(db, tenant, TODAY, redis=redis_conn)) == _rates(tenant_dashboard(db, tenant, TODAY))
    # Only that tenant's: the other keeps its cached rates for the day.
    assert _rates(tenant_dashboard(db, other, TODAY, redis=redis_conn)) == _rates(other_before)


def test_a_matrix_measured_before_a_backfill_committed_is_not_kept(db, make_tenant, redis_conn) -> None:
    # The request looked up the cache, then the backfill committed and invalidated, then the request
    # stored what it had measured from the older rows: the next request must not read it.
    tenant = _bad_debt_ledger(db, make_tenant)
    found = provision_cache.lookup(redis_conn, tenant, TODAY)
    assert found.matrix is None
    stale = _measured(db, tenant)
    provision_cache.invalidate(redis_conn, tenant.id)
    provision_cache.store(redis_conn, tenant, TODAY, found, stale)
    assert provision_cache.lookup(redis_conn, tenant, TODAY).matrix is None


def _measured(db, tenant):  # type: ignore[no-untyped-def]
    from addon.domain.write_offs import provision_matrix
    from addon.services.bad_debt import past_invoices

    return provision_matrix(past_invoices(db, tenant.id, {}, {}), TODAY)


def test_an_unreadable_entry_is_measured_again(db, make_tenant, redis_conn) -> None:
    tenant = _bad_debt_ledger(db, make_tenant)
    fresh = tenant_dashboard(db, tenant, TODAY)
    for junk in (b"not json", json.dumps({"day": TODAY.isoformat()}), json.dumps([1, 2])):
        redis_conn.set(provision_cache.cache_key(tenant.id), junk)
        assert tenant_dashboard(db, tenant, TODAY, redis=redis_conn) == fresh


def test_redis_unreachable_measures_the_matrix_without_failing(db, make_tenant) -> None:
    tenant = _bad_debt_ledger(db, make_tenant)
    down = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, socket_timeout=0.5)
    assert tenant_dashboard(db, tenant, TODAY, redis=down) == tenant_dashboard(db, tenant, TODAY)


def test_the_dashboard_page_and_api_use_the_cache(client, db, make_tenant, sign_in, redis_conn) -> None:
    tenant = _bad_debt_ledger(db, make_tenant)
    sign_in(tenant, Role.VIEWER)
    first = client.get(f"/api/tenants/{tenant.id}/dashboard").json
    assert redis_conn.exists(provision_cache.cache_key(tenant.id))
    _write_off_one_more(db, tenant)
    assert client.get(f"/api/tenants/{tenant.id}/dashboard").json["write_off_rates"] == first["write_off_rates"]
    assert client.get(f"/tenants/{tenant.id}/dashboard").status_code == 200
