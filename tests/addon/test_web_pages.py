"""The tenant pages as a user meets them: odd URLs, empty tenants, titles and navigation (Flask test client)."""

from __future__ import annotations

import re
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
    with time_machine.travel(datetime(2026, 12, 6, 23, 30, tzinfo=UTC), tick=False):
        # Signed in at the travelled time: a session cookie stamped later than "now" is refused as expired.
        sign_in(tenant, Role.VIEWER)
        assert client.get(f"/api/tenants/{tenant.id}/dashboard").get_json()["as_of"] == "2026-12-07"
        [row] = client.get(f"/api/tenants/{tenant.id}/worklist").get_json()
        assert row["days_overdue"] == 0  # due today there, not "due tomorrow"
        assert "As of 2026-12-07" in client.get(f"/tenants/{tenant.id}/dashboard").get_data(as_text=True)


@pytest.fixture
def busy_tenant(db, make_tenant):  # type: ignore[no-untyped-def]
    """250 open invoices (and one paid), all due on one of a few days: many ties to order."""
    from addon.models import Customer, Invoice

    tenant = make_tenant(name="Busy Ltd")
    customer = Customer(tenant_id=tenant.id, remote_id="c1", name="Acme")
    db.add(customer)
    db.flush()
    db.execute(Invoice.__table__.insert(), [
        {"tenant_id": tenant.id, "remote_id": f"i{n}", "number": f"INV-{n:04d}", "customer_id": customer.id,
         "currency": "GBP", "issue_date": date(2026, 9, 1), "due_date": date(2026, 10, 1 + n % 3),
         "total": Decimal("100.00"), "amount_due": Decimal("0.00" if n == 0 else "100.00"),
         "status": "paid" if n == 0 else "open"} for n in range(251)])
    db.commit()
    return tenant


def _numbers(html: str) -> list[str]:
    import re

    return re.findall(r"<td>(INV-\d{4})</td>", html)


@pytest.mark.parametrize("page", ["worklist", "invoices"])
def test_a_long_list_is_shown_a_page_at_a_time_and_every_invoice_is_on_one_page(client, busy_tenant, sign_in,
                                                                                 page: str) -> None:
    sign_in(busy_tenant, Role.VIEWER)
    url = f"/tenants/{busy_tenant.id}/{page}"
    first = client.get(url).get_data(as_text=True)
    assert len(_numbers(first)) == 100
    assert "Showing 1–100 of 250" in first
    assert f'href="{url}?page=2"' in first
    seen = [n for number in (1, 2, 3) for n in _numbers(client.get(f"{url}?page={number}").get_data(as_text=True))]
    assert len(seen) == len(set(seen)) == 250  # no invoice twice, none left out
    last = client.get(f"{url}?page=3").get_data(as_text=True)
    assert "Showing 201–250 of 250" in last
    assert "Next page" not in last
    for odd in ("abc", "0", "-1", "99", "²", "9" * 30):  # the nearest real page, never an error
        assert client.get(f"{url}?page={odd}").status_code == 200
    assert "Showing 201–250 of 250" in client.get(f"{url}?page=99").get_data(as_text=True)


def test_a_promise_recorded_on_a_later_worklist_page_returns_to_that_page(app, client, busy_tenant, sign_in,
                                                                         monkeypatch) -> None:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    sign_in(busy_tenant, Role.ADMIN)
    html = client.get(f"/tenants/{busy_tenant.id}/worklist?page=2").get_data(as_text=True)
    import re

    action = re.search(r'action="([^"]+/dispute[^"]*)"', html).group(1).replace("&amp;", "&")
    answer = client.post(action, data={"action": "record", "reason": "wrong price"})
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/tenants/{busy_tenant.id}/worklist?page=2")


def test_the_position_in_a_long_list_groups_thousands() -> None:
    from addon.web.paging import paging

    pager = paging("11", 100, 10_000)
    assert (pager.first_row, pager.last_row, pager.pages, pager.offset) == (1001, 1100, 100, 1000)
    assert paging("", 100, 0).first_row == 0  # an empty list is page 1 of 1


@pytest.mark.parametrize(("value", "currency", "shown"), [
    ("1234567.5", "GBP", "1,234,567.50"), ("10000.00", "JPY", "10,000"), ("12.345", "KWD", "12.345"),
    ("12.345", "GBP", "12.345"), ("-1500", "EUR", "-1,500.00"), ("0", "GBP", "0.00"), (None, "GBP", ""),
    ("1e30", "GBP", "1e30"), (Decimal("52.49"), "GBP", "52.49")])
def test_pages_write_money_grouped_in_the_currencys_decimals(value: object, currency: str, shown: str) -> None:
    from addon.web.formatting import amount

    assert amount(value, currency) == shown  # type: ignore[arg-type]


def test_the_dashboard_names_the_currency_of_every_figure(client, db, make_tenant, sign_in) -> None:
    tenant = _tenant_in(db, make_tenant, "Europe/London")  # one open invoice: GBP 100.00
    from addon.models import Invoice

    invoice = db.query(Invoice).filter_by(tenant_id=tenant.id).one()
    invoice.total = invoice.amount_due = Decimal("12345.60")
    db.commit()
    sign_in(tenant, Role.VIEWER)
    html = client.get(f"/tenants/{tenant.id}/dashboard").get_data(as_text=True)
    assert '<div class="metric">GBP 12,345.60</div>' in html
    assert "Aging (GBP)" in html
    assert "Cash-in forecast (GBP," in html
    assert "GBP 12,345.60</td>" in html  # the worklist row


def _row_form_token(client, tenant) -> str:  # type: ignore[no-untyped-def]
    import re

    html = client.get(f"/tenants/{tenant.id}/worklist").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_a_promise_in_the_past_comes_back_on_its_row_with_the_date_as_typed(client, db, make_tenant,
                                                                            sign_in) -> None:
    from addon.models import Invoice

    tenant = _tenant_in(db, make_tenant, "Europe/London")
    invoice_id = db.query(Invoice.id).filter_by(tenant_id=tenant.id).scalar()
    sign_in(tenant, Role.ADMIN)
    answer = client.post(f"/tenants/{tenant.id}/invoices/{invoice_id}/promise",
                         data={"csrf_token": _row_form_token(client, tenant), "action": "record",
                               "promised_on": "2020-01-31"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert (f'id="record-error-{invoice_id}">Not recorded: a promise to pay is for today or a later day, '
            "not 2020-01-31<") in html
    assert 'value="2020-01-31"' in html
    db.expire_all()
    assert db.get(Invoice, invoice_id).promised_on is None


def test_a_dispute_on_an_invoice_paid_meanwhile_says_so_and_keeps_nothing(client, db, make_tenant, sign_in) -> None:
    from addon.models import Invoice

    tenant = _tenant_in(db, make_tenant, "Europe/London")
    sign_in(tenant, Role.ADMIN)
    token = _row_form_token(client, tenant)  # the page was loaded while the invoice was open
    invoice = db.query(Invoice).filter_by(tenant_id=tenant.id).one()
    invoice.amount_due, invoice.status = Decimal("0.00"), "paid"  # the next sync: paid in the ledger
    db.commit()
    answer = client.post(f"/tenants/{tenant.id}/invoices/{invoice.id}/dispute",
                         data={"csrf_token": token, "action": "record", "reason": "wrong price"})
    assert answer.status_code == 422
    assert "Not recorded: invoice INV-1 is not open (paid, 0.00 due)" in answer.get_data(as_text=True)


# POSTs that cannot carry our token: RFC 8058 one-click unsubscribe comes from the mail client (its signed
# token is the check); the webhooks never reach Flask (their HMAC signature is the check).
CSRF_EXEMPT = {"dunning.unsubscribe"}


def test_every_state_changing_route_refuses_a_post_without_the_csrf_token(app, client, make_tenant, sign_in) -> None:
    tenant = make_tenant()
    sign_in(tenant, Role.ADMIN)
    checked = []
    for rule in app.url_map.iter_rules():
        if not ({"POST", "PUT", "PATCH", "DELETE"} & set(rule.methods or ())) or rule.endpoint in CSRF_EXEMPT:
            continue
        url = rule.rule.replace("<int:tenant_id>", str(tenant.id))
        for argument in rule.arguments - {"tenant_id"}:
            url = re.sub(rf"<[^>]*{argument}>", "1" if argument.endswith("id") else "promise", url)
        for method in sorted({"POST", "PUT", "PATCH", "DELETE"} & set(rule.methods or ())):
            answer = client.open(url, method=method, data={"name": "x"})
            assert answer.status_code == 400, (method, url, answer.status_code)
            assert b"could not be checked" in answer.data
            assert b"nothing was saved" in answer.data
            checked.append(rule.endpoint)
    assert len(set(checked)) >= 20  # every form of every page: auth, collections, dunning, reconciliation


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ADMIN])
def test_every_page_of_a_new_tenant_opens_for_every_role(client, make_tenant, sign_in, role: Role) -> None:
    tenant = make_tenant()  # no invoices, statements, scores or policy yet
    sign_in(tenant, role)
    for path in ("", "/dashboard", "/worklist", "/invoices", "/dunning", "/reconciliation"):
        answer = client.get(f"/tenants/{tenant.id}{path}")
        assert answer.status_code == 200, path
    for path in ("dashboard", "worklist", "invoices", "reconciliation/queue", "dunning/preview"):
        assert client.get(f"/api/tenants/{tenant.id}/{path}").status_code == 200, path


def test_a_form_left_open_for_hours_still_saves(app, client, db, make_tenant, sign_in) -> None:
    """The CSRF token lives as long as the session: an accountant's typing survives a long lunch."""
    tenant = make_tenant()
    with time_machine.travel(datetime(2026, 12, 7, 9, 0, tzinfo=UTC), tick=False):
        sign_in(tenant, Role.ADMIN)  # at the travelled time (a cookie stamped in the future reads as expired)
        html = client.get(f"/tenants/{tenant.id}/reconciliation").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    with time_machine.travel(datetime(2026, 12, 7, 14, 0, tzinfo=UTC), tick=False):
        answer = client.post(f"/tenants/{tenant.id}/reconciliation/mappings",
                             data={"csrf_token": token, "name": "Barclays",
                                   "mapping": '{"date": "Date", "amount": "Amount", "default_currency": "GBP"}'})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]


def test_a_refused_form_explains_itself_in_the_apps_layout(client, make_tenant, sign_in) -> None:
    tenant = make_tenant(name="Layout Ltd")
    sign_in(tenant, Role.VIEWER)
    answer = client.post(f"/tenants/{tenant.id}/reconciliation/mappings", data={"name": "x"})  # no token
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "<title>Form expired · Cashline</title>" in html
    assert "nothing was saved. Go back, reload the page and send it again." in html
    api = client.post(f"/api/tenants/{tenant.id}/invoices/1/promise", json={})
    assert api.status_code == 400
    assert "nothing was saved" in api.get_json()["error"]


@pytest.mark.parametrize(("path", "status", "title"), [("/tenants/{other}/dashboard", 404, "Page not found"),
                                                       ("/no/such/page", 404, "Page not found"),
                                                       ("/tenants/{t}/dunning/policies/1/stages/new", 403,
                                                        "Not allowed")])
def test_pages_that_are_not_there_or_not_yours_say_so_in_the_apps_layout(client, make_tenant, sign_in, path: str,
                                                                         status: int, title: str) -> None:
    tenant, other = make_tenant(), make_tenant()
    sign_in(tenant, Role.VIEWER)
    answer = client.get(path.format(t=tenant.id, other=other.id))
    assert answer.status_code == status
    assert f"<title>{title} · Cashline</title>" in answer.get_data(as_text=True)
    api = client.get(f"/api/tenants/{other.id}/dashboard")
    assert (api.status_code, api.is_json) == (404, True)


def test_an_upload_far_over_the_limit_is_refused_before_it_is_read(app, client, make_tenant, sign_in) -> None:
    import io

    tenant = make_tenant()
    sign_in(tenant, Role.ADMIN)
    app.config["WTF_CSRF_ENABLED"] = False
    answer = client.post(f"/tenants/{tenant.id}/reconciliation/statements",
                         data={"statement": (io.BytesIO(b"0" * (22 * 1024 * 1024)), "huge.csv")},
                         content_type="multipart/form-data")
    assert answer.status_code == 413
    assert "a statement file is at most 20 MB" in answer.get_data(as_text=True)


def test_the_dashboard_and_worklist_of_a_big_ledger_build_no_object_per_invoice(client, db, busy_tenant,
                                                                                sign_in) -> None:
    """A 10,000-invoice ledger took seconds, most of it building an ORM object per invoice for figures that
    need a few columns: the pages read plain rows (deterministic proxy for the time: objects loaded)."""
    from sqlalchemy import event

    from addon.models import Invoice

    loaded = []
    listener = lambda target, context: loaded.append(target.id)  # noqa: E731
    event.listen(Invoice, "load", listener)
    try:
        sign_in(busy_tenant, Role.VIEWER)
        for path in ("dashboard", "worklist", "invoices"):
            db.expire_all()
            assert client.get(f"/tenants/{busy_tenant.id}/{path}").status_code == 200
            assert len(loaded) <= 100, (path, len(loaded))  # the risk page's 100 rows at most, not all 251
            loaded.clear()
    finally:
        event.remove(Invoice, "load", listener)


def test_deleting_a_policy_twice_explains_the_second_time(client, db, make_tenant, sign_in) -> None:
    tenant = make_tenant()
    sign_in(tenant, Role.ADMIN)
    html = client.get(f"/tenants/{tenant.id}/dunning").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post(f"/tenants/{tenant.id}/dunning/policies",
                data={"csrf_token": token, "name": "Retail", "language": "en"})
    from addon.models import DunningPolicy

    policy_id = db.query(DunningPolicy.id).filter_by(tenant_id=tenant.id, name="Retail").scalar()
    url = f"/tenants/{tenant.id}/dunning/policies/{policy_id}/delete"
    assert client.post(url, data={"csrf_token": token}).status_code == 302
    again = client.post(url, data={"csrf_token": token})  # a double click, or a second tab
    assert again.status_code == 404
    assert "it may have just been deleted" in again.get_data(as_text=True)


def test_a_refused_promise_on_a_long_worklist_shows_the_worklist_with_its_page_links(app, client, busy_tenant,
                                                                                    sign_in, monkeypatch) -> None:
    # The refused form is rendered by the POST view: the page links must still point at the worklist.
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    sign_in(busy_tenant, Role.ADMIN)
    html = client.get(f"/tenants/{busy_tenant.id}/worklist?page=2").get_data(as_text=True)
    action = re.search(r'action="([^"]+/promise[^"]*)"', html).group(1).replace("&amp;", "&")
    answer = client.post(action, data={"action": "record", "promised_on": "not a date"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "Showing 101–200 of 250" in page
    assert f'href="/tenants/{busy_tenant.id}/worklist?page=3"' in page
