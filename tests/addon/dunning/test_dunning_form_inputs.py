"""Odd but possible input on the stage form and the template preview: an error next to the field, never a 500."""

from __future__ import annotations

import re

import pytest

from addon.models import Role


def _csrf(page) -> str:  # type: ignore[no-untyped-def]
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


@pytest.mark.parametrize(("field", "typed"), [("offset_days", "-99999999999999999999"), ("offset_days", "40000"),
                                              ("min_amount", "NaN"), ("min_amount", "-Infinity")])
def test_a_stage_with_an_impossible_number_is_refused_next_to_its_field(client, ledger, sign_in, field: str,
                                                                        typed: str) -> None:
    sign_in(ledger.tenant)
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning")
    policy_id = re.search(r'id="policy-(\d+)"', page.get_data(as_text=True)).group(1)
    form = {"key": "late_call", "offset_days": "21", "tone": "firm", "channel": "email", field: typed}
    answer = client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{policy_id}/stages",
                         data={**form, "csrf_token": _csrf(page)})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert f'id="error-{field}"' in html
    assert f'value="{typed}"' in html  # what was typed stays in the field


def test_a_superscript_digit_in_a_sending_setting_is_refused_next_to_its_field(client, ledger, sign_in) -> None:
    sign_in(ledger.tenant)
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning")
    form = {"timezone": "Europe/London", "send_hour": "²", "quiet_start": "21:00", "quiet_end": "07:00",
            "frequency_cap": "3", "frequency_window_days": "7", "csrf_token": _csrf(page)}
    answer = client.post(f"/tenants/{ledger.tenant.id}/dunning/options", data=form)
    assert answer.status_code == 422
    assert 'id="error-send_hour">a whole number from 0 to 23' in answer.get_data(as_text=True)


def test_a_superscript_digit_as_the_policy_in_the_address_shows_the_default_policy(client, ledger, sign_in) -> None:
    sign_in(ledger.tenant, Role.VIEWER)
    assert client.get(f"/tenants/{ledger.tenant.id}/dunning?policy=²").status_code == 200


@pytest.mark.parametrize("body", [[1], {"invoice_id": "abc"}, {"invoice_id": 2**70}, {"invoice_id": "²"}])
def test_a_template_preview_request_the_page_never_sends_is_a_400_with_a_problem(client, ledger, sign_in,
                                                                                 body: object) -> None:
    sign_in(ledger.tenant)
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning")
    answer = client.post(f"/api/tenants/{ledger.tenant.id}/dunning/template-preview", json=body,
                         headers={"X-CSRFToken": _csrf(page)})
    assert answer.status_code == 400
    assert answer.get_json()["problems"][0]["field"] == "request"


def test_a_template_preview_on_another_tenants_invoice_shows_sample_data(client, db, ledger, sign_in,
                                                                        make_tenant) -> None:
    from datetime import date
    from decimal import Decimal

    from addon.models import Customer, Invoice

    other = make_tenant(name="Other Ltd")
    customer = Customer(tenant_id=other.id, remote_id="secret", name="Secret Customer")
    db.add(customer)
    db.flush()
    theirs = Invoice(tenant_id=other.id, remote_id="x", number="SECRET-1", customer_id=customer.id, currency="GBP",
                     issue_date=date(2026, 10, 1), due_date=date(2026, 10, 31), total=Decimal("5"),
                     amount_due=Decimal("5"), status="open")
    db.add(theirs)
    db.commit()
    sign_in(ledger.tenant)
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning")
    answer = client.post(f"/api/tenants/{ledger.tenant.id}/dunning/template-preview",
                         json={"subject": "{{ company.name }}", "body": "x", "invoice_id": theirs.id},
                         headers={"X-CSRFToken": _csrf(page)})
    assert answer.status_code == 200
    assert "SECRET" not in answer.get_data(as_text=True)
    assert "Secret Customer" not in answer.get_data(as_text=True)


def test_approving_twice_says_nothing_was_waiting_instead_of_approved_0(client, db, ledger, sign_in, mailer,
                                                                         smtp_server) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from addon.models import DunningAction
    from addon.services.dunning import run_dunning
    from tests.addon.dunning.conftest import DUE, at

    run_dunning(db, ledger.tenant, ledger.platform, at(DUE + timedelta(days=46)), mailer)
    sign_in(ledger.tenant)
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning")  # two admins, or one double click: same page
    action = db.scalar(select(DunningAction).where(DunningAction.exactly_once_key == "I1:final"))
    url = f"/tenants/{ledger.tenant.id}/dunning/approvals/{action.customer_id}"
    client.post(url, data={"decision": "approve", "csrf_token": _csrf(page)})
    client.post(url, data={"decision": "reject", "csrf_token": _csrf(page)})
    html = client.get(f"/tenants/{ledger.tenant.id}/dunning").get_data(as_text=True)
    assert re.search(r'<div class="banner info" role="status">Approved 1 reminder line\(s\)', html)  # announced
    assert "Nothing was waiting for approval for this customer any more" in html
    assert "Declined 0" not in html
    db.expire_all()
    assert db.get(DunningAction, action.id).status == "approved"  # the second, stale decision changed nothing
