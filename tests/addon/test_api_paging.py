"""The JSON lists of a big tenant come a page at a time, with the paging said in headers: the first page is
what callers always got (a bare JSON list, the top 500 / 200), and the rest is reachable."""

from __future__ import annotations

import pytest

from addon.models import Role
from tests.addon.helpers import insert_big_ledger

INVOICES = 1_250


@pytest.fixture
def big_tenant(db, make_tenant):  # type: ignore[no-untyped-def]
    tenant = make_tenant(name="Big Ltd")
    insert_big_ledger(db, tenant, customers=300, invoices=INVOICES)
    db.commit()
    return tenant


@pytest.mark.parametrize(("path", "default"), [("invoices", 500), ("worklist", 200)])
def test_every_open_invoice_is_reachable_page_by_page_and_the_first_page_is_unchanged(
        client, big_tenant, sign_in, path: str, default: int) -> None:
    sign_in(big_tenant, Role.VIEWER)
    url = f"/api/tenants/{big_tenant.id}/{path}"
    first = client.get(url)
    assert first.status_code == 200
    rows = first.get_json()
    assert isinstance(rows, list)
    assert len(rows) == default
    assert (first.headers["X-Total-Count"], first.headers["X-Limit"], first.headers["X-Offset"]) == (
        str(INVOICES), str(default), "0")
    seen = [row["invoice_id"] for row in rows]
    answer = first
    while 'rel="next"' in answer.headers.get("Link", ""):
        next_url = answer.headers["Link"].split(";")[0].strip("<>")
        answer = client.get(next_url)
        assert answer.status_code == 200
        seen += [row["invoice_id"] for row in answer.get_json()]
    assert len(seen) == len(set(seen)) == INVOICES  # none twice, none left out
    assert 'rel="prev"' in answer.headers["Link"]


def test_a_page_of_the_worklist_is_the_same_slice_as_the_whole_ranking(client, big_tenant, sign_in) -> None:
    sign_in(big_tenant, Role.VIEWER)
    url = f"/api/tenants/{big_tenant.id}/worklist"
    whole = client.get(f"{url}?limit=1000").get_json() + client.get(f"{url}?limit=1000&offset=1000").get_json()
    page = client.get(f"{url}?limit=50&offset=700").get_json()
    assert [r["invoice_id"] for r in page] == [r["invoice_id"] for r in whole[700:750]]


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=abc", "offset=-1", "offset=x", "limit=1.5",
                                   "limit=" + "9" * 30])
@pytest.mark.parametrize("path", ["invoices", "worklist"])
def test_a_limit_out_of_bounds_or_not_a_number_is_refused_clearly(client, big_tenant, sign_in, path: str,
                                                                   query: str) -> None:
    sign_in(big_tenant, Role.VIEWER)
    answer = client.get(f"/api/tenants/{big_tenant.id}/{path}?{query}")
    assert answer.status_code == 400
    assert "limit" in answer.get_json()["error"] or "offset" in answer.get_json()["error"]


def test_an_offset_past_the_end_is_an_empty_page_with_the_total(client, big_tenant, sign_in) -> None:
    sign_in(big_tenant, Role.VIEWER)
    answer = client.get(f"/api/tenants/{big_tenant.id}/invoices?offset=5000")
    assert answer.status_code == 200
    assert answer.get_json() == []
    assert answer.headers["X-Total-Count"] == str(INVOICES)
    assert 'rel="next"' not in answer.headers.get("Link", "")

