"""`cashline model score-tenant --tenant ID [--json] [--no-write-back]`, `model train-tenant --tenant ID`, and
the registry commands `model list-tenant --tenant ID` / `model activate-tenant --tenant ID --version V`."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select

from addon.cli.model_tenant import group  # importing the module adds its commands to `model`
from addon.models import AuditLog, Invoice, ModelVersion, RiskScore, TenantStatus
from addon.services import scoring_training
from tests.addon.helpers import mirror_generated_company
from tests.addon.test_scoring_gate import shuffled_outcomes

TODAY = date(2026, 11, 1)


@pytest.fixture
def mirrored(app, db, make_tenant, monkeypatch, redis_conn):
    """A tenant whose mirror holds a small generated company (enough settled invoices for its own
    model), with the fake connector injected for write-back."""
    tenant = make_tenant(platform="fake", remote_id="cli-score-org")
    connector = mirror_generated_company(db, tenant, 11, customers=12, invoices=420, today=TODAY)
    db.commit()
    monkeypatch.setitem(app.config, "CONNECTOR_FACTORY", lambda _tenant: connector)
    return tenant, connector


def _invoke(app, *args: str):  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(group, list(args))
    assert result.exit_code == 0, result.output
    return result


def _open_count(db, tenant) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(Invoice).where(
        Invoice.tenant_id == tenant.id, Invoice.status == "open", Invoice.amount_due > 0))


def test_score_tenant_json_stores_scores_and_writes_back_only_changes(app, db, mirrored, redis_conn) -> None:
    tenant, connector = mirrored
    args = ("score-tenant", "--tenant", str(tenant.id), "--json", "--as-of", TODAY.isoformat())
    first = json.loads(_invoke(app, *args).output)
    assert set(first) == {"tenant", "as_of", "scored", "written_back", "model_version", "model_kind",
                          "write_back", "bands"}
    assert (first["tenant"], first["as_of"], first["write_back"]) == (tenant.id, "2026-11-01", True)
    db.expire_all()
    stored = db.scalars(select(RiskScore).where(RiskScore.tenant_id == tenant.id)).all()
    assert first["scored"] == _open_count(db, tenant) == len(stored) > 0
    assert sum(first["bands"].values()) == first["scored"]
    assert first["bands"] == {b: sum(1 for r in stored if r.band == b) for b in {r.band for r in stored}}
    assert first["written_back"] == first["scored"] == sum(len(v) for v in connector.notes.values())
    assert all(r.written_band == r.band and r.model_version == first["model_version"] for r in stored)
    version = db.scalar(select(ModelVersion).where(ModelVersion.tenant_id == tenant.id, ModelVersion.active))
    assert version is not None
    assert (version.version, version.kind) == (first["model_version"], first["model_kind"])

    again = json.loads(_invoke(app, *args).output)
    assert (again["scored"], again["written_back"]) == (first["scored"], 0)  # bands unchanged: no new notes
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(RiskScore)) == first["scored"]  # upserted, not added
    assert sum(len(v) for v in connector.notes.values()) == first["scored"]


def test_no_write_back_scores_but_tags_nothing(app, db, mirrored) -> None:
    tenant, connector = mirrored
    result = _invoke(app, "score-tenant", "--tenant", str(tenant.id), "--no-write-back", "--as-of", "2026-11-01")
    assert "write-back skipped" in result.output
    assert f"Tenant {tenant.id}: scored " in result.output
    db.expire_all()
    stored = db.scalars(select(RiskScore).where(RiskScore.tenant_id == tenant.id)).all()
    assert len(stored) == _open_count(db, tenant) > 0
    assert all(r.written_band is None for r in stored)
    assert connector.notes == {}
    for band in {r.band for r in stored}:
        assert any(line.split() == [band, str(sum(r.band == band for r in stored))]
                   for line in result.output.splitlines())


def test_train_tenant_registers_the_active_model_that_scoring_then_uses(app, db, mirrored) -> None:
    tenant, connector = mirrored
    trained = json.loads(_invoke(app, "train-tenant", "--tenant", str(tenant.id), "--json",
                                 "--as-of", "2026-11-01").output)
    assert (trained["tenant"], trained["model_kind"], trained["trained_to"]) == (tenant.id, "tenant", "2026-11-01")
    assert trained["history_invoices"] > 300
    db.expire_all()
    [active] = db.scalars(select(ModelVersion).where(ModelVersion.tenant_id == tenant.id, ModelVersion.active))
    assert active.version == trained["model_version"]

    # A disconnected tenant still gets scores (with the fresh model, not a retrain); write-back waits.
    tenant.status = TenantStatus.DISCONNECTED
    db.commit()
    result = app.test_cli_runner().invoke(group, ["score-tenant", "--tenant", str(tenant.id), "--json",
                                                  "--as-of", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert "warning: no write-back" in result.stderr
    scored = json.loads(result.stdout)
    assert (scored["model_version"], scored["write_back"], scored["written_back"]) == (
        trained["model_version"], False, 0)
    assert connector.notes == {}
    assert db.scalar(select(func.count()).select_from(ModelVersion)) == 1


def test_train_tenant_keeps_a_worse_model_inactive_unless_forced(app, db, mirrored, monkeypatch) -> None:
    tenant, _ = mirrored
    first = json.loads(_invoke(app, "train-tenant", "--tenant", str(tenant.id), "--json",
                               "--as-of", "2026-11-01").output)
    real = scoring_training.train_leaning_on_prior
    monkeypatch.setattr(scoring_training, "train_leaning_on_prior",  # learns from outcomes that are not its customers'
                        lambda history, *a, **k: real(shuffled_outcomes(list(history)), *a, **k))
    kept = _invoke(app, "train-tenant", "--tenant", str(tenant.id), "--as-of", "2026-11-09").output
    assert f"kept inactive, {first['model_version']} stays active (rerun with --force to activate it)" in kept
    forced = json.loads(_invoke(app, "train-tenant", "--tenant", str(tenant.id), "--json", "--force",
                                "--as-of", "2026-11-09").output)
    assert forced["active"]
    assert forced["metrics"]["gate"]["outcome"] == "forced"
    db.expire_all()
    [active] = db.scalars(select(ModelVersion).where(ModelVersion.tenant_id == tenant.id, ModelVersion.active))
    assert active.version == forced["model_version"]
    assert db.scalar(select(func.count()).select_from(ModelVersion)) == 3
    actions = db.scalars(select(AuditLog.action).where(AuditLog.object_type == "model_version")
                         .order_by(AuditLog.id)).all()
    assert actions == ["model.activated", "model.rejected", "model.activated"]


def test_unknown_tenant_and_too_little_history_are_errors(app, db, make_tenant, monkeypatch,
                                                         redis_conn) -> None:
    runner = app.test_cli_runner()
    for command in ("score-tenant", "train-tenant"):
        missing = runner.invoke(group, [command, "--tenant", "999999"])
        assert missing.exit_code != 0
        assert "no tenant with id 999999" in missing.output
    empty = make_tenant(platform="fake", remote_id="empty-org")
    db.commit()
    # No history of its own and a prior too small to train on (3 invoices x 3 mixes).
    monkeypatch.setitem(app.config, "SCORING_PRIOR_INVOICES", 3)
    result = runner.invoke(group, ["train-tenant", "--tenant", str(empty.id), "--as-of", "2026-11-01"])
    assert result.exit_code != 0
    assert f"tenant {empty.id}: need at least" in result.output
    assert db.scalar(select(func.count()).select_from(ModelVersion)) == 0


def test_gate_tolerances_come_from_the_configuration(app, db, mirrored, monkeypatch) -> None:
    """With tolerances wide enough, the candidate trained on shuffled outcomes that the default gate keeps
    out (test above) is activated."""
    tenant, _ = mirrored
    first = json.loads(_invoke(app, "train-tenant", "--tenant", str(tenant.id), "--json",
                               "--as-of", "2026-11-01").output)
    monkeypatch.setitem(app.config, "SCORING_GATE_BRIER_TOLERANCE", 1.0)
    monkeypatch.setitem(app.config, "SCORING_GATE_AUC_TOLERANCE", 1.0)
    real = scoring_training.train_leaning_on_prior
    monkeypatch.setattr(scoring_training, "train_leaning_on_prior",
                        lambda history, *a, **k: real(shuffled_outcomes(list(history)), *a, **k))
    second = json.loads(_invoke(app, "train-tenant", "--tenant", str(tenant.id), "--json",
                                "--as-of", "2026-11-09").output)
    gate = second["metrics"]["gate"]
    assert (second["active"], gate["outcome"], gate["compared_with"]) == (True, "activated", first["model_version"])
    assert gate["candidate"]["brier"] > gate["active"]["brier"]  # worse, but within the configured tolerance
    assert gate["tolerances"] == {"brier": 1.0, "roc_auc": 1.0}


def _trained_and_rejected(app, tenant, monkeypatch) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    """A good model (active) and a candidate the gate rejected (inactive), through train-tenant."""
    good = json.loads(_invoke(app, "train-tenant", "--tenant", str(tenant.id), "--json",
                              "--as-of", "2026-11-01").output)
    real = scoring_training.train_leaning_on_prior
    monkeypatch.setattr(scoring_training, "train_leaning_on_prior",
                        lambda history, *a, **k: real(shuffled_outcomes(list(history)), *a, **k))
    bad = json.loads(_invoke(app, "train-tenant", "--tenant", str(tenant.id), "--json",
                             "--as-of", "2026-11-09").output)
    monkeypatch.setattr(scoring_training, "train_leaning_on_prior", real)
    assert (good["active"], bad["active"], bad["metrics"]["gate"]["outcome"]) == (True, False, "rejected")
    return good, bad


def _active_versions(db, tenant) -> list[str]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return list(db.scalars(select(ModelVersion.version).where(ModelVersion.tenant_id == tenant.id,
                                                              ModelVersion.active)))


def test_list_then_activate_a_rejected_model_and_roll_back(app, db, mirrored, monkeypatch) -> None:
    tenant, _ = mirrored
    good, bad = _trained_and_rejected(app, tenant, monkeypatch)
    listed = json.loads(_invoke(app, "list-tenant", "--tenant", str(tenant.id), "--json").output)
    assert (listed["tenant"], listed["active"], listed["active_kind"]) == (tenant.id, good["model_version"], "tenant")
    assert [(m["version"], m["active"], m["gate"]["outcome"]) for m in listed["models"]] == [
        (bad["model_version"], False, "rejected"), (good["model_version"], True, "activated")]
    newest = listed["models"][0]
    assert (newest["trained_from"], newest["trained_to"]) == (bad["trained_from"], "2026-11-09")
    assert newest["gate"]["candidate"] == bad["metrics"]["gate"]["candidate"]
    assert newest["metrics"] == {k: v for k, v in bad["metrics"].items() if k != "gate"}

    text = _invoke(app, "list-tenant", "--tenant", str(tenant.id)).output
    assert f"scoring uses {good['model_version']} (tenant)" in text
    [bad_line] = [line for line in text.splitlines() if bad["model_version"] in line]
    assert bad_line.split()[-2:] == ["rejected", "inactive"]
    assert f"{bad['metrics']['gate']['candidate']['brier']:.4f}" in bad_line

    done = json.loads(_invoke(app, "activate-tenant", "--tenant", str(tenant.id), "--version", bad["model_version"],
                              "--json", "--reason", "the gate misjudged a one-off import").output)
    assert (done["model_version"], done["previous"], done["changed"], done["gate_outcome"]) == (
        bad["model_version"], good["model_version"], True, "rejected")
    assert done["actor"].startswith("cli:activate-tenant")
    assert _active_versions(db, tenant) == [bad["model_version"]]
    [audit] = db.scalars(select(AuditLog).where(AuditLog.action == "model.activated_by_hand")).all()
    assert (audit.tenant_id, audit.actor, audit.object_id) == (tenant.id, done["actor"], bad["model_version"])
    assert audit.before == {"active": good["model_version"]}
    assert audit.after == {"active": bad["model_version"], "gate_outcome": "rejected"}
    assert audit.reason == "the gate misjudged a one-off import"
    assert tenant.model_attempt == "activated_by_hand"

    # Scoring uses it as it is (no retrain undoes the choice), and a rollback restores the first model.
    scored = json.loads(_invoke(app, "score-tenant", "--tenant", str(tenant.id), "--json", "--no-write-back",
                                "--as-of", "2026-11-20").output)
    assert scored["model_version"] == bad["model_version"]
    back = _invoke(app, "activate-tenant", "--tenant", str(tenant.id), "--version", good["model_version"]).output
    assert f"{good['model_version']} is now the active model (was {bad['model_version']})" in back
    assert "quality gate verdict when it was trained: activated" in back
    assert _active_versions(db, tenant) == [good["model_version"]]
    again = _invoke(app, "activate-tenant", "--tenant", str(tenant.id), "--version", good["model_version"]).output
    assert "already the active model; nothing changed" in again
    assert len(db.scalars(select(AuditLog).where(AuditLog.action == "model.activated_by_hand")).all()) == 2
    assert db.scalar(select(func.count()).select_from(ModelVersion)) == 2


def _registered(db, tenant, version: str, artifact: bytes, *, active: bool = False) -> ModelVersion:  # type: ignore[no-untyped-def]
    row = ModelVersion(tenant_id=tenant.id if tenant is not None else None, version=version, kind="tenant",
                       trained_from=date(2025, 1, 1), trained_to=date(2026, 10, 1), metrics={},
                       artifact=artifact, active=active)
    db.add(row)
    db.flush()
    return row


@pytest.mark.parametrize(("version", "message"), [
    ("t-nope", "no model version 't-nope' in the registry"),
    ("t-other", "model version 't-other' belongs to tenant {other}, not tenant {tenant}"),
    ("pooled-1", "model version 'pooled-1' is the shared pooled model, not one of tenant {tenant}'s"),
    ("t-empty", "model version 't-empty' has no artifact"),
    ("t-garbage", "model version 't-garbage' cannot be loaded by this release (not a Cashline risk model artifact"),
])
def test_activate_tenant_refuses_what_it_cannot_activate(app, db, make_tenant, version, message) -> None:
    tenant, other = make_tenant(), make_tenant()
    _registered(db, tenant, "t-current", b"in use", active=True)
    _registered(db, other, "t-other", b"another tenant's")
    _registered(db, None, "pooled-1", b"shared", active=True)
    _registered(db, tenant, "t-empty", b"")
    _registered(db, tenant, "t-garbage", b"not a zip file")
    db.commit()
    result = app.test_cli_runner().invoke(group, ["activate-tenant", "--tenant", str(tenant.id),
                                                  "--version", version])
    assert result.exit_code != 0
    assert f"tenant {tenant.id}: " + message.format(tenant=tenant.id, other=other.id) in result.output
    assert _active_versions(db, tenant) == ["t-current"]
    assert _active_versions(db, other) == []
    assert db.scalar(select(func.count()).select_from(AuditLog)) == 0
    assert tenant.model_attempt is None


def test_list_tenant_without_models_of_its_own(app, db, make_tenant) -> None:
    tenant = make_tenant()
    db.commit()
    assert "0 model version(s); scoring uses no model yet" in _invoke(app, "list-tenant", "--tenant",
                                                                      str(tenant.id)).output
    _registered(db, None, "pooled-1", b"shared", active=True)
    db.commit()
    listed = json.loads(_invoke(app, "list-tenant", "--tenant", str(tenant.id), "--json").output)
    assert listed == {"tenant": tenant.id, "active": "pooled-1", "active_kind": "tenant", "models": []}
    missing = app.test_cli_runner().invoke(group, ["list-tenant", "--tenant", "999999"])
    assert missing.exit_code != 0
    assert "no tenant with id 999999" in missing.output
