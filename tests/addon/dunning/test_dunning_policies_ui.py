"""Several dunning policies on the settings page (create, rename, assign, delete) and per-language template
variants (Flask test client, signed in via the session)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from addon.models import AuditLog, DunningPolicy, DunningStage, Role
from addon.services.dunning import run_dunning
from addon.services.dunning_policies import ensure_default_policy
from tests.addon.dunning.conftest import DUE, at

NL_SUBJECT = "Betalingsherinnering van {{ company.name }}"
NL_BODY = "Beste {{ customer.name }},\n{% for inv in invoices %}{{ inv.number }}\n{% endfor %}"


def _csrf(page) -> str:  # type: ignore[no-untyped-def]
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match, "no CSRF token on the page"
    return match.group(1)


def _policy(db, tenant, name: str) -> DunningPolicy:  # type: ignore[no-untyped-def]
    db.expire_all()
    return db.scalar(select(DunningPolicy).where(DunningPolicy.tenant_id == tenant.id, DunningPolicy.name == name))


def _create(client, tenant, token: str, name: str = "Strict", language: str = "en"):  # type: ignore[no-untyped-def]
    return client.post(f"/tenants/{tenant.id}/dunning/policies",
                       data={"name": name, "language": language, "csrf_token": token})


def _stage(db, policy: DunningPolicy, key: str, language: str = "en") -> DunningStage:  # type: ignore[no-untyped-def]
    return db.scalar(select(DunningStage).where(DunningStage.policy_id == policy.id, DunningStage.key == key,
                                                DunningStage.language == language))


def test_create_assign_and_the_dry_run_follows_the_new_policy(client, db, ledger, sign_in) -> None:
    sign_in(ledger.tenant)
    token = _csrf(client.get(f"/tenants/{ledger.tenant.id}/dunning"))
    created = _create(client, ledger.tenant, token)
    assert created.status_code == 302
    strict = _policy(db, ledger.tenant, "Strict")
    default = db.scalar(select(DunningPolicy).where(DunningPolicy.tenant_id == ledger.tenant.id,
                                                    DunningPolicy.is_default.is_(True)))
    assert strict is not None
    assert not strict.is_default
    assert [(s.key, s.offset_days) for s in strict.stages] == [(s.key, s.offset_days) for s in default.stages]
    assert strict.segment == {"customers": []}

    assigned = client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{strict.id}/customers",
                           data={"customers": ["C2"], "csrf_token": token})
    assert assigned.status_code == 302
    assert _policy(db, ledger.tenant, "Strict").segment == {"customers": ["C2"]}
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning?policy={strict.id}").get_data(as_text=True)
    row = page[page.index(f'id="policy-row-{strict.id}"'):]
    assert "Globex BV" in row[:row.index("</tr>")]
    assert f'id="policy-{strict.id}"' in page  # the picked policy's stages are the ones shown for editing

    added = client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{strict.id}/stages",
                        data={"key": "strict_10", "offset_days": "10", "tone": "urgent", "channel": "email",
                              "subject_template": "", "body_template": "", "csrf_token": token})
    assert added.status_code == 302
    assert _stage(db, default, "strict_10") is None  # only the new policy got it
    dry_run = client.get(f"/api/tenants/{ledger.tenant.id}/dunning/preview?date=2026-11-09").get_json()
    assert sorted((a["customer"], a["stage"]) for a in dry_run["actions"]) == [("Acme Ltd", "overdue_7"),
                                                                               ("Globex BV", "strict_10")]


def test_rename_reassign_and_delete(client, db, ledger, sign_in) -> None:
    sign_in(ledger.tenant)
    token = _csrf(client.get(f"/tenants/{ledger.tenant.id}/dunning"))
    _create(client, ledger.tenant, token, "A")
    _create(client, ledger.tenant, token, "B")
    a, b = _policy(db, ledger.tenant, "A"), _policy(db, ledger.tenant, "B")
    client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{a.id}/customers",
                data={"customers": ["C1", "C2"], "csrf_token": token})
    client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{b.id}/customers",
                data={"customers": ["C2"], "csrf_token": token})
    assert _policy(db, ledger.tenant, "A").segment["customers"] == ["C1"]  # a customer has one policy
    assert _policy(db, ledger.tenant, "B").segment["customers"] == ["C2"]

    clash = client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{b.id}",
                        data={"name": "A", "language": "en", "csrf_token": token})
    assert clash.status_code == 422
    assert 'id="error-policy-name">another policy is already called &#39;A&#39;' in clash.get_data(as_text=True)
    unknown = client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{b.id}/customers",
                          data={"customers": ["NOPE"], "csrf_token": token})
    assert unknown.status_code == 422
    assert 'id="error-policy-customers">unknown customer(s): NOPE' in unknown.get_data(as_text=True)
    renamed = client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{b.id}",
                          data={"name": "Big accounts", "language": "de", "csrf_token": token})
    assert renamed.status_code == 302
    b = _policy(db, ledger.tenant, "Big accounts")
    assert b.options["language"] == "de"

    default = db.scalar(select(DunningPolicy).where(DunningPolicy.tenant_id == ledger.tenant.id,
                                                    DunningPolicy.is_default.is_(True)))
    client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{default.id}/delete", data={"csrf_token": token})
    assert db.get(DunningPolicy, default.id) is not None  # the default stays
    client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{b.id}/delete", data={"csrf_token": token})
    db.expire_all()
    assert db.get(DunningPolicy, b.id) is None
    assert db.scalar(select(DunningStage).where(DunningStage.policy_id == b.id)) is None
    dry_run = client.get(f"/api/tenants/{ledger.tenant.id}/dunning/preview?date=2026-11-09").get_json()
    assert {a["stage"] for a in dry_run["actions"]} == {"overdue_7"}  # C2 is back on the default
    actions = set(db.scalars(select(AuditLog.action).where(AuditLog.tenant_id == ledger.tenant.id)))
    assert {"dunning.policy_created", "dunning.policy_assigned", "dunning.policy_updated",
            "dunning.policy_deleted"} <= actions


def test_dutch_variant_is_used_when_the_policy_writes_in_dutch(client, db, ledger, sign_in, mailer,
                                                               smtp_server) -> None:
    sign_in(ledger.tenant)
    token = _csrf(client.get(f"/tenants/{ledger.tenant.id}/dunning"))
    _create(client, ledger.tenant, token, "Nederland")
    nl = _policy(db, ledger.tenant, "Nederland")
    client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{nl.id}/customers",
                data={"customers": ["C2"], "csrf_token": token})
    stage = _stage(db, nl, "overdue_7")
    form = client.get(f"/tenants/{ledger.tenant.id}/dunning/stages/{stage.id}/language?language=nl")
    assert form.status_code == 200
    saved = client.post(f"/tenants/{ledger.tenant.id}/dunning/stages/{stage.id}/language",
                        data={"language": "nl", "subject_template": NL_SUBJECT, "body_template": NL_BODY,
                              "csrf_token": token})
    assert saved.status_code == 302
    assert _stage(db, nl, "overdue_7", "nl").subject_template == NL_SUBJECT
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning?policy={nl.id}").get_data(as_text=True)
    assert re.search(r'id="stage-overdue_7".*?class="stage-languages">en, <a [^>]*>nl</a>', page, re.S)
    client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{nl.id}",
                data={"name": "Nederland", "language": "nl", "csrf_token": token})

    run_dunning(db, ledger.tenant, ledger.platform, at(DUE + timedelta(days=10)), mailer)
    subjects = {m.rcpt_tos[0]: str(m.message["Subject"]) for m in smtp_server.sink.arrived}
    assert subjects["ar@globex.example"] == "Betalingsherinnering van Example Supplies Ltd"
    assert not subjects["ap@acme.example"].startswith("Betalingsherinnering")  # default policy: English


def test_english_is_used_while_the_policy_writes_in_english(client, db, ledger, sign_in, mailer,
                                                            smtp_server) -> None:
    sign_in(ledger.tenant)
    token = _csrf(client.get(f"/tenants/{ledger.tenant.id}/dunning"))
    _create(client, ledger.tenant, token, "Mixed")
    mixed = _policy(db, ledger.tenant, "Mixed")
    client.post(f"/tenants/{ledger.tenant.id}/dunning/policies/{mixed.id}/customers",
                data={"customers": ["C2"], "csrf_token": token})
    stage = _stage(db, mixed, "overdue_7")
    client.post(f"/tenants/{ledger.tenant.id}/dunning/stages/{stage.id}/language",
                data={"language": "nl", "subject_template": NL_SUBJECT, "body_template": NL_BODY,
                      "csrf_token": token})
    run_dunning(db, ledger.tenant, ledger.platform, at(DUE + timedelta(days=10)), mailer)
    subjects = {m.rcpt_tos[0]: str(m.message["Subject"]) for m in smtp_server.sink.arrived}
    assert "ar@globex.example" in subjects
    assert not subjects["ar@globex.example"].startswith("Betalingsherinnering")


def test_bad_variant_template_shows_the_error_and_saves_nothing(client, db, ledger, sign_in) -> None:
    sign_in(ledger.tenant)
    token = _csrf(client.get(f"/tenants/{ledger.tenant.id}/dunning"))
    default = db.scalar(select(DunningPolicy).where(DunningPolicy.tenant_id == ledger.tenant.id))
    stage = _stage(db, default, "due")
    bad = client.post(f"/tenants/{ledger.tenant.id}/dunning/stages/{stage.id}/language",
                      data={"language": "fr", "subject_template": "Rappel",
                            "body_template": "Bonjour\n{{ nope }}", "csrf_token": token})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'id="error-body_template">line 2: unknown variable &#39;nope&#39;' in html
    assert "Bonjour" in html  # the typed text is kept
    half = client.post(f"/tenants/{ledger.tenant.id}/dunning/stages/{stage.id}/language",
                       data={"language": "fr", "subject_template": "Rappel", "body_template": "",
                             "csrf_token": token})
    assert 'id="error-body_template">needed when the other part' in half.get_data(as_text=True)
    english = client.post(f"/tenants/{ledger.tenant.id}/dunning/stages/{stage.id}/language",
                          data={"language": "en", "subject_template": "x", "body_template": "y",
                                "csrf_token": token})
    assert 'id="error-language">' in english.get_data(as_text=True)
    assert _stage(db, default, "due", "fr") is None
    empty_name = _create(client, ledger.tenant, token, "  ")
    assert empty_name.status_code == 422
    assert 'id="error-policy-name">a name of 1 to 100 characters' in empty_name.get_data(as_text=True)


def test_deleting_a_stage_removes_its_language_variants(client, db, ledger, sign_in) -> None:
    sign_in(ledger.tenant)
    token = _csrf(client.get(f"/tenants/{ledger.tenant.id}/dunning"))
    default = db.scalar(select(DunningPolicy).where(DunningPolicy.tenant_id == ledger.tenant.id))
    stage = _stage(db, default, "overdue_14")
    client.post(f"/tenants/{ledger.tenant.id}/dunning/stages/{stage.id}/language",
                data={"language": "de", "subject_template": "Mahnung", "body_template": "Hallo",
                      "csrf_token": token})
    variant = _stage(db, default, "overdue_14", "de")
    assert variant is not None
    assert client.get(f"/tenants/{ledger.tenant.id}/dunning/stages/{variant.id}/edit").status_code == 404
    client.post(f"/tenants/{ledger.tenant.id}/dunning/stages/{stage.id}/delete", data={"csrf_token": token})
    db.expire_all()
    assert db.scalar(select(DunningStage).where(DunningStage.key == "overdue_14")) is None


def test_viewer_gets_403_on_every_edit(app, client, db, ledger, sign_in, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)  # viewers get no forms: test the role check
    sign_in(ledger.tenant, Role.VIEWER)
    page = client.get(f"/tenants/{ledger.tenant.id}/dunning").get_data(as_text=True)
    assert "Create policy" not in page
    assert "Save customers" not in page
    default = db.scalar(select(DunningPolicy).where(DunningPolicy.tenant_id == ledger.tenant.id))
    stage = _stage(db, default, "due")
    base = f"/tenants/{ledger.tenant.id}/dunning"
    posts = [(f"{base}/policies", {"name": "X", "language": "en"}),
             (f"{base}/policies/{default.id}", {"name": "X", "language": "nl"}),
             (f"{base}/policies/{default.id}/delete", {}),
             (f"{base}/policies/{default.id}/customers", {"customers": ["C1"]}),
             (f"{base}/stages/{stage.id}/language", {"language": "nl", "subject_template": "a",
                                                     "body_template": "b"})]
    for url, data in posts:
        assert client.post(url, data=data).status_code == 403, url
    assert client.get(f"{base}/stages/{stage.id}/language?language=nl").status_code == 403
    db.expire_all()
    assert [p.name for p in db.scalars(select(DunningPolicy).where(
        DunningPolicy.tenant_id == ledger.tenant.id))] == [default.name]
    assert _stage(db, default, "due", "nl") is None


def test_other_tenants_policies_are_not_found(client, db, ledger, sign_in, make_tenant) -> None:
    other = make_tenant()
    db.commit()
    sign_in(other)
    token = _csrf(client.get(f"/tenants/{other.id}/dunning"))
    default = ensure_default_policy(db, ledger.tenant)
    db.commit()
    answer = client.post(f"/tenants/{other.id}/dunning/policies/{default.id}",
                         data={"name": "Hijacked", "language": "en", "csrf_token": token})
    assert answer.status_code == 404
