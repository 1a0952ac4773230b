from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from addon.domain.types import InvoiceStatus
from addon.models import BankLine, PayerAlias, Role, User
from addon.queueing import get_queue
from jobs.reconcile import reconcile_statement
from jobs.runtime import set_app
from tests.addon.reconciliation.statements import Entry, camt053

STATEMENT = [Entry("1200.00", "Acme Trading Ltd", text="INV-1001"),
             Entry("999.00", "JS HOLDINGS", "GB99BARC20000012345678"),
             Entry("42.42", "Someone Else", text="birthday")]


@pytest.fixture
def signed_in(app, tenant, platform, sign_in, monkeypatch):  # type: ignore[no-untyped-def]
    def signed_in_as(role: Role = Role.ADMIN) -> User:
        return sign_in(tenant, role)

    monkeypatch.setitem(app.config, "CONNECTOR_FACTORY", lambda t: platform)
    set_app(app)
    return signed_in_as


def _csrf(client, tenant) -> str:  # type: ignore[no-untyped-def]
    page = client.get(f"/tenants/{tenant.id}/reconciliation")
    assert page.status_code == 200
    return re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()


def _upload(client, tenant, data: bytes, name: str = "nov.xml", **form: str):  # type: ignore[no-untyped-def]
    return client.post(f"/tenants/{tenant.id}/reconciliation/statements",
                       data={"csrf_token": _csrf(client, tenant), "statement": (io.BytesIO(data), name), **form},
                       content_type="multipart/form-data")


def test_upload_queue_and_confirm(client, db, tenant, platform, signed_in, redis_conn) -> None:
    signed_in()
    resp = _upload(client, tenant, camt053(STATEMENT))
    assert resp.status_code == 302
    [job] = get_queue("reconcile", redis_conn).jobs
    assert job.func_name == "jobs.reconcile.reconcile_statement"
    tenant_id, statement_id = job.args
    assert tenant_id == tenant.id

    summary = reconcile_statement(tenant_id, statement_id)
    assert (summary["posted"], summary["exceptions"]) == (1, 2)
    assert platform.invoices["i1001"].status is InvoiceStatus.PAID

    page = client.get(f"/tenants/{tenant.id}/reconciliation")
    assert b"Imported 3 lines from nov.xml" in page.data
    assert b"INV-2001" in page.data
    assert b"Someone Else" in page.data
    assert page.data.count(b'class="card queue-line"') == 2
    api = client.get(f"/api/tenants/{tenant.id}/reconciliation/queue").json
    holdings = next(e for e in api if e["counterparty"] == "JS HOLDINGS")
    assert holdings["suggestions"][0]["allocations"][0]["number"] == "INV-2001"

    resp = client.post(f"/tenants/{tenant.id}/reconciliation/lines/{holdings['line_id']}/confirm",
                       data={"csrf_token": _csrf(client, tenant), "suggestion": "0"})
    assert resp.status_code == 302
    assert platform.invoices["i2001"].status is InvoiceStatus.PAID
    db.expire_all()
    assert db.get(BankLine, holdings["line_id"]).status == "reconciled"
    assert db.scalars(select(PayerAlias)).all()
    page = client.get(f"/tenants/{tenant.id}/reconciliation")
    assert b"Payment posted to the platform." in page.data
    assert page.data.count(b'class="card queue-line"') == 1

    other = next(e for e in api if e["counterparty"] == "Someone Else")
    resp = client.post(f"/tenants/{tenant.id}/reconciliation/lines/{other['line_id']}/reject",
                       data={"csrf_token": _csrf(client, tenant)})
    assert resp.status_code == 302
    db.expire_all()
    assert db.get(BankLine, other["line_id"]).status == "ignored"

    assert _upload(client, tenant, camt053(STATEMENT)).status_code == 302
    assert b"was imported before" in client.get(f"/tenants/{tenant.id}/reconciliation").data


def test_malformed_upload_is_rejected_with_location(client, db, tenant, signed_in, redis_conn) -> None:
    signed_in()
    broken = camt053(STATEMENT).replace(b">999.00<", b">9x9.00<")
    resp = _upload(client, tenant, broken, "broken.xml")
    assert resp.status_code == 400
    assert b"broken.xml was rejected: camt statement, at /Document" in resp.data
    assert b"Ntry[2]" in resp.data
    assert db.scalars(select(BankLine)).all() == []
    assert get_queue("reconcile", redis_conn).count == 0


def test_saved_csv_mapping_is_offered_and_used(client, db, tenant, signed_in, redis_conn) -> None:
    from tests.addon.reconciliation.statements import CSV_MAPPING, csv_statement

    signed_in()
    resp = client.post(f"/tenants/{tenant.id}/reconciliation/mappings",
                       data={"csrf_token": _csrf(client, tenant), "name": "mybank", "mapping": CSV_MAPPING})
    assert resp.status_code == 302
    assert b'<option value="mybank">mybank (saved)</option>' in client.get(
        f"/tenants/{tenant.id}/reconciliation").data
    bad = client.post(f"/tenants/{tenant.id}/reconciliation/mappings",
                      data={"csrf_token": _csrf(client, tenant), "name": "x", "mapping": "{not json"})
    assert bad.status_code == 400
    data = csv_statement([("2026-11-10", "300.00", "Acme Trading Ltd", "", "INV-1002")])
    assert _upload(client, tenant, data, "export.csv", mapping="mybank").status_code == 302
    assert [line.amount for line in db.scalars(select(BankLine))] == [300]


def test_viewers_see_the_queue_but_cannot_act(app, client, tenant, signed_in, monkeypatch) -> None:
    signed_in(Role.VIEWER)
    page = client.get(f"/tenants/{tenant.id}/reconciliation")
    assert page.status_code == 200
    assert b"upload-form" not in page.data
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page.data)
    assert token is None
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)  # so the role check itself answers
    assert client.post(f"/tenants/{tenant.id}/reconciliation/lines/1/reject").status_code == 403
    assert client.post(f"/tenants/{tenant.id}/reconciliation/statements").status_code == 403


def test_other_tenants_queue_is_not_visible(client, tenant, signed_in, make_tenant, db) -> None:
    signed_in()
    other = make_tenant(name="Not yours")
    db.commit()
    assert client.get(f"/tenants/{other.id}/reconciliation").status_code == 404


def test_admin_applies_a_line_to_another_invoice(client, db, tenant, platform, signed_in, redis_conn) -> None:
    signed_in()
    _upload(client, tenant, camt053([Entry("100.00", "Initech GmbH", text="on account")]))
    [job] = get_queue("reconcile", redis_conn).jobs
    reconcile_statement(*job.args)
    page = client.get(f"/tenants/{tenant.id}/reconciliation")
    assert b'<option value="INV-3001">' in page.data
    [entry] = client.get(f"/api/tenants/{tenant.id}/reconciliation/queue").json
    url = f"/tenants/{tenant.id}/reconciliation/lines/{entry['line_id']}/change"
    refused = client.post(url, data={"csrf_token": _csrf(client, tenant), "invoice": "INV-9999", "amount": "100"})
    assert refused.status_code == 422  # the form comes back on its line, as typed, with the reason
    assert b"Not changed: pick an open invoice" in refused.data
    resp = client.post(url, data={"csrf_token": _csrf(client, tenant), "invoice": "INV-3001", "amount": "100.00"})
    assert resp.status_code == 302
    assert platform.invoices["i3001"].amount_due == Decimal("677.77")
    db.expire_all()
    assert db.get(BankLine, entry["line_id"]).status == "reconciled"


def test_admin_applies_one_line_to_several_invoices_and_keeps_the_rest_as_credit(
        client, db, tenant, platform, signed_in, redis_conn) -> None:  # type: ignore[no-untyped-def]
    signed_in()
    _upload(client, tenant, camt053([Entry("1600.00", "Acme Trading Ltd", text="October invoices")]))
    [job] = get_queue("reconcile", redis_conn).jobs
    reconcile_statement(*job.args)
    page = client.get(f"/tenants/{tenant.id}/reconciliation").data
    assert page.count(b'name="invoice"') == 4  # up to four invoices per line
    [entry] = client.get(f"/api/tenants/{tenant.id}/reconciliation/queue").json
    url = f"/tenants/{tenant.id}/reconciliation/lines/{entry['line_id']}/change"

    def apply(*rows: tuple[str, str]):  # type: ignore[no-untyped-def]
        form = {"csrf_token": _csrf(client, tenant), "invoice": [r[0] for r in rows] + ["", ""],
                "amount": [r[1] for r in rows] + ["", ""]}
        resp = client.post(url, data=form)  # refused: the page again (422), the reason on the line
        return (resp.data if resp.status_code == 422 else client.get(f"/tenants/{tenant.id}/reconciliation").data
                ).decode()

    assert "Not changed: INV-2001 belongs to another customer than INV-1001" in apply(
        ("INV-1001", "1200.00"), ("INV-2001", "100.00"))
    assert "Not changed: the amount for INV-1002 must be above 0 and at most 300.00" in apply(
        ("INV-1001", "1200.00"), ("INV-1002", "300.01"))
    assert "Not changed: the amounts add up to 1650.00, more than the line&#39;s 1600.00" in apply(
        ("INV-1001", "1200.00"), ("INV-1002", "300.00"), ("INV-1003", "150.00"))
    assert "Not changed: INV-1002 is picked twice" in apply(("INV-1002", "100"), ("INV-1002", "100"))
    assert platform.writes == []  # nothing reached the platform

    apply(("INV-1001", "1200.00"), ("INV-1002", "300.00"), ("INV-1003", "50.00"))
    [(kind, payment)] = platform.writes
    assert kind == "create_payment"
    assert [(a.invoice_id, a.amount) for a in payment.allocations] == [
        ("i1001", Decimal("1200.00")), ("i1002", Decimal("300.00")), ("i1003", Decimal("50.00"))]
    assert payment.unapplied_amount == Decimal("50.00")  # the rest of the line: credit for Acme
    assert platform.invoices["i1001"].status is InvoiceStatus.PAID
    assert platform.invoices["i1003"].amount_due == Decimal("400.00")
    db.expire_all()
    assert db.get(BankLine, entry["line_id"]).status == "reconciled"
    assert db.scalars(select(PayerAlias.alias)).all() == ["name:Acme Trading Ltd"]
