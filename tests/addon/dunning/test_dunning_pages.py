"""The dunning settings page, stage editing, template preview, approvals and unsubscribe (Flask test client)."""

from __future__ import annotations

import re
from datetime import timedelta

import time_machine
from sqlalchemy import select

from addon.mail import UnsubscribeTokens
from addon.models import Customer, DunningAction, DunningPolicy, DunningStage, Invoice, Role, Suppression
from addon.services.dunning import run_dunning
from addon.services.dunning_policies import ensure_default_policy
from tests.addon.dunning.conftest import DUE, at


def _csrf(page) -> str:  # type: ignore[no-untyped-def]
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match, "no CSRF token on the page"
    return match.group(1)


def _stages(db, tenant) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    db.expire_all()
    policy = db.scalar(select(DunningPolicy).where(DunningPolicy.tenant_id == tenant.id))
    return [(s.key, s.offset_days) for s in sorted(policy.stages, key=lambda s: s.position)]


def _form(**overrides: str) -> dict[str, str]:
    form = {"key": "nudge_3", "offset_days": "3", "tone": "friendly", "channel": "email",
            "subject_template": "Quick nudge from {{ company.name }}",
            "body_template": "Hello {{ customer.name }},\n{% for inv in invoices %}{{ inv.number }}\n{% endfor %}"}
    form.update(overrides)
    return form


def test_settings_page_shows_the_default_policy_and_tomorrows_dry_run(client, ledger, sign_in) -> None:
    sign_in(ledger.tenant, Role.VIEWER)
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for key in ("pre_due", "overdue_7", "final"):
        assert f'id="stage-{key}"' in html
    assert "Dry run: who gets what tomorrow" in html
    assert "Add a stage" not in html
    assert "Switch off" not in html


def test_viewer_cannot_edit(app, client, ledger, sign_in, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)  # viewers get no forms: test the role check
    sign_in(ledger.tenant, Role.VIEWER)
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning")
    policy_id = re.search(r'id="policy-(\d+)"', page.get_data(as_text=True)).group(1)
    answer = client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{policy_id}/stages", data=_form())
    assert answer.status_code == 403
    assert client.get(f"/tenants/{ledger.tenant.id}/dunning/policies/{policy_id}/stages/new").status_code == 403


def test_other_tenants_settings_are_not_found(client, ledger, sign_in, make_tenant, db) -> None:
    other = make_tenant()
    db.commit()
    sign_in(ledger.tenant)
    assert client.get(f"/tenants/{other.id}/dunning").status_code == 404


def test_admin_adds_a_stage_which_slots_in_by_offset(client, db, ledger, sign_in) -> None:
    sign_in(ledger.tenant)
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning")
    policy_id = re.search(r'id="policy-(\d+)"', page.get_data(as_text=True)).group(1)
    form_page = client.get(f"/tenants/{ledger.tenant.id}/dunning/policies/{policy_id}/stages/new")
    answer = client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{policy_id}/stages",
                         data={**_form(), "csrf_token": _csrf(form_page), "risk_bands": ["high"]})
    assert answer.status_code == 302
    assert _stages(db, ledger.tenant)[2] == ("nudge_3", 3)
    stage = db.scalar(select(DunningStage).where(DunningStage.key == "nudge_3"))
    assert stage.risk_bands == ["high"]
    assert stage.subject_template.startswith("Quick nudge")


def test_posting_without_the_csrf_token_is_refused(client, ledger, sign_in) -> None:
    sign_in(ledger.tenant)
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning")
    policy_id = re.search(r'id="policy-(\d+)"', page.get_data(as_text=True)).group(1)
    answer = client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{policy_id}/stages", data=_form())
    assert answer.status_code == 400


def test_validation_errors_are_shown_next_to_their_field(client, db, ledger, sign_in) -> None:
    sign_in(ledger.tenant)
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning")
    policy_id = re.search(r'id="policy-(\d+)"', page.get_data(as_text=True)).group(1)
    bad = _form(key="due", offset_days="7",
                body_template="Hello\n{% for inv in invoices %}{{ inv.amount }}{% endfor %}\n{% if %}")
    answer = client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{policy_id}/stages",
                         data={**bad, "csrf_token": _csrf(page)})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert re.search(r'id="error-body_template">line 3: [^<]*', html)
    unknown = _form(body_template="Hi\n\n{{ inv.amount }}{% for inv in invoices %}{% endfor %}")
    answer = client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{policy_id}/stages",
                         data={**unknown, "csrf_token": _csrf(page)})
    assert "line 3: unknown variable &#39;inv.amount&#39;" in answer.get_data(as_text=True)
    clash = client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{policy_id}/stages",
                        data={**_form(key="due", offset_days="7"), "csrf_token": _csrf(page)})
    html = clash.get_data(as_text=True)
    assert 'id="error-key">another stage already uses the key' in html
    same_day = client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{policy_id}/stages",
                           data={**_form(offset_days="7"), "csrf_token": _csrf(page)})
    assert 'id="error-offset_days">' in same_day.get_data(as_text=True)
    assert len(_stages(db, ledger.tenant)) == 6  # nothing was saved


def test_edit_move_delete_and_switch_off(client, db, ledger, sign_in) -> None:
    sign_in(ledger.tenant)
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning")
    token = _csrf(page)
    stage = db.scalar(select(DunningStage).where(DunningStage.key == "overdue_14"))
    edit = client.post(f"/tenants/{ledger.tenant.id}/dunning/stages/{stage.id}",
                       data={**_form(key="renamed", offset_days="12", tone="urgent"), "csrf_token": token})
    assert edit.status_code == 302
    assert ("overdue_14", 12) in _stages(db, ledger.tenant)  # the key never changes
    client.post(f"/tenants/{ledger.tenant.id}/dunning/stages/{stage.id}/move",
                data={"direction": "up", "csrf_token": token})
    assert _stages(db, ledger.tenant)[2:4] == [("overdue_14", 7), ("overdue_7", 12)]
    client.post(f"/tenants/{ledger.tenant.id}/dunning/stages/{stage.id}/delete", data={"csrf_token": token})
    assert "overdue_14" not in dict(_stages(db, ledger.tenant))
    policy = db.scalar(select(DunningPolicy).where(DunningPolicy.tenant_id == ledger.tenant.id))
    client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{policy.id}/enabled",
                data={"enabled": "0", "csrf_token": token})
    db.expire_all()
    assert db.get(DunningPolicy, policy.id).enabled is False
    dry_run = client.get(f"/api/tenants/{ledger.tenant.id}/dunning/preview?date=2026-11-09").get_json()
    assert dry_run["actions"] == []  # switched off: nothing planned


def test_template_preview_renders_on_a_real_invoice_or_reports_problems(client, ledger, sign_in) -> None:
    sign_in(ledger.tenant)
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning")
    headers = {"X-CSRFToken": _csrf(page)}
    url = f"/api/tenants/{ledger.tenant.id}/dunning/template-preview"
    ok = client.post(url, json={"subject": "Hi {{ customer.name }}", "stage": "due", "tone": "friendly",
                                "body": "{% for inv in invoices %}{{ inv.number }}: "
                                        "{{ inv.amount_due|money(inv.currency) }}{% endfor %}"}, headers=headers)
    result = ok.get_json()
    assert result["ok"] is True
    assert result["subject"] in ("Hi Acme Ltd", "Hi Globex BV")
    assert re.fullmatch(r"INV-I[12]: £(100|250)\.00", result["body"])
    bad = client.post(url, json={"subject": "x", "body": "a\n{{ nope }}"}, headers=headers).get_json()
    assert bad == {"ok": False, "problems": [{"field": "body", "line": 2, "message": "unknown variable 'nope'"}]}


def test_api_preview_is_the_dry_run(client, ledger, sign_in) -> None:
    sign_in(ledger.tenant, Role.VIEWER)
    data = client.get(f"/api/tenants/{ledger.tenant.id}/dunning/preview?date=2026-11-09").get_json()
    assert data["date"] == "2026-11-09"
    assert [(a["customer"], a["stage"]) for a in data["actions"]] == [("Acme Ltd", "overdue_7"),
                                                                      ("Globex BV", "overdue_7")]
    assert client.get(f"/api/tenants/{ledger.tenant.id}/dunning/preview?date=tomorrow").status_code == 400


def test_approvals_list_and_approve(client, db, ledger, sign_in, mailer, smtp_server) -> None:
    run_dunning(db, ledger.tenant, ledger.platform, at(DUE + timedelta(days=46)), mailer)
    sign_in(ledger.tenant)
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning")
    html = page.get_data(as_text=True)
    assert "INV-I1 (final" in html
    assert "Approve" in html
    action = db.scalar(select(DunningAction).where(DunningAction.exactly_once_key == "I1:final"))
    answer = client.post(f"/tenants/{ledger.tenant.id}/dunning/approvals/{action.customer_id}",
                         data={"decision": "approve", "csrf_token": _csrf(page)})
    assert answer.status_code == 302
    db.expire_all()
    assert db.get(DunningAction, action.id).status == "approved"


def test_one_click_unsubscribe(app, client, db, ledger) -> None:
    token = UnsubscribeTokens(app.config["SECRET_KEY"]).make(str(ledger.tenant.id), "C1")
    confirm = client.get(f"/unsubscribe/{token}")
    assert confirm.status_code == 200
    assert "Stop payment reminders from Example Supplies Ltd" in confirm.get_data(
        as_text=True)
    done = client.post(f"/unsubscribe/{token}", data="List-Unsubscribe=One-Click")  # RFC 8058: no CSRF token
    assert done.status_code == 200
    assert db.scalar(select(Suppression.address).where(Suppression.channel == "email")) == "ap@acme.example"
    assert client.get("/unsubscribe/forged").status_code == 404


def test_worklist_tasks_are_listed_on_the_page(client, db, ledger, sign_in, mailer, smtp_server) -> None:
    db.scalar(select(Customer).where(Customer.remote_id == "C2")).emails = []
    db.scalar(select(Invoice).where(Invoice.remote_id == "I2")).billing_email = None
    db.commit()
    now = at(DUE + timedelta(days=10))
    run_dunning(db, ledger.tenant, ledger.platform, now, mailer)
    with time_machine.travel(now, tick=False):  # the page lists the last 30 days' tasks
        sign_in(ledger.tenant, Role.VIEWER)  # inside: a session signed "in the future" would be refused
        page = client.get(f"/tenants/{ledger.tenant.id}/dunning")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html[:3000]
    tasks = html[html.index('id="tasks"'):]
    assert "Globex BV" in tasks
    assert "no usable email address" in tasks


def test_sending_settings_are_validated_saved_and_used_by_the_dry_run(client, db, ledger, sign_in) -> None:
    sign_in(ledger.tenant)
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning")
    form = {"timezone": "Mars/Olympus", "send_hour": "25", "quiet_start": "20:00", "quiet_end": "08:00",
            "frequency_cap": "2", "frequency_window_days": "7", "statutory_pack": "uk",
            "reference_rates": "2026-07-01 4.00\nnot a rate", "business_days_only": "1", "csrf_token": _csrf(page)}
    bad = client.post(f"/tenants/{ledger.tenant.id}/dunning/options", data=form)
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "unknown timezone &#39;Mars/Olympus&#39;" in html
    assert 'id="error-send_hour">a whole number from 0 to 23' in html
    assert 'id="error-reference_rates">line 2:' in html
    good = client.post(f"/tenants/{ledger.tenant.id}/dunning/options",
                       data={**form, "timezone": "America/New_York", "send_hour": "11",
                             "reference_rates": "2026-07-01 4.00"})
    assert good.status_code == 302
    db.expire_all()
    options = db.scalar(select(DunningPolicy).where(DunningPolicy.tenant_id == ledger.tenant.id)).options
    assert options["timezone"] == "America/New_York"
    assert options["reference_rates"] == [["2026-07-01", "4.00"]]
    dry_run = client.get(f"/api/tenants/{ledger.tenant.id}/dunning/preview?date=2026-11-09").get_json()
    assert dry_run["actions"][0]["send_at"] == "2026-11-09T16:00:00+00:00"  # 11:00 in New York


def test_policy_list_counts_the_schedule_not_its_language_variants(client, db, ledger, sign_in) -> None:
    """The Stages column counts what the engine runs: English rows (or rows with no language), never variants."""
    policy = ensure_default_policy(db, ledger.tenant)
    stages = sorted(policy.stages, key=lambda s: s.position)
    stages[0].language = ""  # an imported row without a language is part of the schedule
    first = stages[1]
    db.add(DunningStage(tenant_id=ledger.tenant.id, policy_id=policy.id, key=first.key, position=first.position,
                        offset_days=first.offset_days, tone=first.tone, channel=first.channel, language="de",
                        subject_template="Erinnerung", body_template="Hallo"))
    db.flush()
    sign_in(ledger.tenant, Role.VIEWER)
    html = client.get(f"/tenants/{ledger.tenant.id}/dunning").get_data(as_text=True)
    row = re.search(rf'<tr id="policy-row-{policy.id}".*?</tr>', html, re.S)
    assert row is not None
    cells = re.findall(r"<td>(\d+)</td>", row.group(0))
    assert cells == [str(len(stages))]
