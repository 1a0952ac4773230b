"""The retraining quality gate (a candidate is activated only if it is not worse than the active model on
the newest labelled invoices) and the memory of the last training attempt (no retraining loop)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta

import pytest

from addon.domain.scoring.history import HistoryInvoice
from addon.domain.scoring.train import TrainConfig, train_model
from addon.models import AuditLog, ModelVersion
from addon.services import scoring, scoring_training
from addon.services.scoring_prior import after_last_date, generated_history
from tests.addon.helpers import mirror_generated_company

TODAY = date(2026, 11, 1)
FAST = TrainConfig(classifier_rounds=40, quantile_rounds=40, nthread=1)


@pytest.fixture
def mirrored(db, make_tenant):
    tenant = make_tenant(platform="fake", remote_id="gate-org")
    mirror_generated_company(db, tenant, 5, customers=20, invoices=700, today=TODAY)
    db.commit()
    history, _ = scoring.tenant_history(db, tenant)
    return tenant, history


def shuffled_outcomes(history: list[HistoryInvoice]) -> list[HistoryInvoice]:
    """The same invoices with each one's payment delay taken from a random other invoice: outcomes
    that no longer belong to their customers."""
    rng = random.Random(0)
    delays = [i.delay_days() for i in history]
    rng.shuffle(delays)
    out = []
    for inv, delay in zip(history, delays, strict=True):
        paid = None if delay is None else max(inv.issue_date, inv.due_date + timedelta(days=delay))
        out.append(replace(inv, paid_date=paid, payments=(), partial_payments=0))
    return out


@pytest.fixture
def train_on_shuffled(monkeypatch):
    """Make the next trainings learn from shuffled outcomes (the gate still judges on the real ones)."""
    real = scoring_training.train_leaning_on_prior

    def shuffled(history, *args, **kwargs):  # type: ignore[no-untyped-def]
        return real(shuffled_outcomes(list(history)), *args, **kwargs)

    def use(on: bool) -> None:
        monkeypatch.setattr(scoring_training, "train_leaning_on_prior", shuffled if on else real)
    return use


def _audits(db, action: str) -> list[AuditLog]:  # type: ignore[no-untyped-def]
    return db.query(AuditLog).filter_by(action=action).all()


def test_a_worse_candidate_is_stored_inactive_and_the_active_model_kept(db, mirrored, train_on_shuffled) -> None:
    tenant, history = mirrored
    good = scoring.train_for_tenant(db, tenant, history, TODAY, None, FAST)
    assert good.active
    train_on_shuffled(True)
    later = TODAY + timedelta(days=8)
    bad = scoring.train_for_tenant(db, tenant, history, later, None, FAST)
    db.commit()
    assert not bad.active
    assert good.active
    gate = bad.metrics["gate"]
    assert gate["outcome"] == "rejected"
    assert "Brier" in gate["reason"] or "AUC" in gate["reason"]
    assert gate["candidate"]["n"] == gate["active"]["n"] > 50
    assert gate["candidate"]["brier"] > gate["active"]["brier"]
    assert set(gate["candidate"]) >= {"roc_auc", "brier", "coverage_80", "n"}
    [audit] = _audits(db, "model.rejected")
    assert audit.object_id == bad.version
    assert audit.before == {"active": good.version}
    assert audit.reason == gate["reason"]
    assert (tenant.model_attempted_on, tenant.model_attempt) == (later, "rejected")


def test_a_better_candidate_replaces_the_active_model(db, mirrored, train_on_shuffled) -> None:
    tenant, history = mirrored
    train_on_shuffled(True)
    bad = scoring.train_for_tenant(db, tenant, history, TODAY, None, FAST)
    assert bad.active  # the first model of the tenant: nothing to compare with
    train_on_shuffled(False)
    good = scoring.train_for_tenant(db, tenant, history, TODAY + timedelta(days=8), None, FAST)
    db.commit()
    assert good.active
    assert not bad.active
    assert good.metrics["gate"]["outcome"] == "activated"
    assert good.metrics["gate"]["candidate"]["brier"] < good.metrics["gate"]["active"]["brier"]
    assert [a.object_id for a in _audits(db, "model.activated")] == [bad.version, good.version]


def test_force_activates_a_worse_candidate(db, mirrored, train_on_shuffled) -> None:
    tenant, history = mirrored
    good = scoring.train_for_tenant(db, tenant, history, TODAY, None, FAST)
    train_on_shuffled(True)
    forced = scoring.train_for_tenant(db, tenant, history, TODAY + timedelta(days=8), None, FAST, force=True)
    db.commit()
    assert forced.active
    assert not good.active
    assert forced.metrics["gate"]["outcome"] == "forced"
    assert "Brier" in forced.metrics["gate"]["reason"] or "AUC" in forced.metrics["gate"]["reason"]


def _pooled_model(db) -> ModelVersion:  # type: ignore[no-untyped-def]
    """A shared model (tenant_id NULL) trained on a small generated history of another company."""
    history = generated_history(101, "balanced", 15, 400)
    model = train_model(history, after_last_date(history), FAST)
    row = ModelVersion(tenant_id=None, version=f"pooled-{model.version}", kind="pooled",
                       trained_from=None, trained_to=after_last_date(history), metrics={},
                       artifact=model.to_bytes(), active=True)
    db.add(row)
    db.flush()
    return row


def test_a_first_tenant_model_replaces_the_pooled_one_when_it_is_not_worse(db, mirrored) -> None:
    tenant, history = mirrored
    pooled = _pooled_model(db)
    _, current = scoring.ensure_model(db, tenant, history, TODAY, config=FAST)
    db.commit()
    assert current.tenant_id == tenant.id
    assert current.active
    assert pooled.active  # still the shared model of the other tenants
    assert current.metrics["gate"]["outcome"] == "activated"
    assert current.metrics["gate"]["active"]["n"] > 50
    assert current.metrics["gate"]["candidate"]["brier"] < current.metrics["gate"]["active"]["brier"]


def test_a_tenant_on_the_pooled_model_does_not_retry_training_on_every_run(db, make_tenant, monkeypatch) -> None:
    """Too little history of its own and no prior: the first run tries and keeps the pooled model; the
    runs after it the same day do not load the history and train again."""
    tenant = make_tenant(platform="fake", remote_id="pooled-only")
    pooled = _pooled_model(db)
    attempts = []
    real = scoring_training.train_leaning_on_prior
    monkeypatch.setattr(scoring_training, "train_leaning_on_prior",
                        lambda *a, **k: attempts.append(a[1]) or real(*a, **k))
    for _ in range(3):
        _, current = scoring.ensure_model(db, tenant, [], TODAY, config=FAST)
        assert current.id == pooled.id
    assert attempts == [TODAY]
    assert (tenant.model_attempted_on, tenant.model_attempt) == (TODAY, "not_enough_history")
    scoring.ensure_model(db, tenant, [], TODAY + timedelta(days=1), config=FAST)  # new invoices may have come
    assert attempts == [TODAY, TODAY + timedelta(days=1)]


def test_a_rejected_candidate_is_not_retrained_on_every_run(db, mirrored, train_on_shuffled) -> None:
    tenant, history = mirrored
    good = scoring.train_for_tenant(db, tenant, history, TODAY, None, FAST)
    train_on_shuffled(True)
    later = TODAY + timedelta(days=8)
    _, current = scoring.ensure_model(db, tenant, history, later, config=FAST)
    assert current.id == good.id
    assert db.query(ModelVersion).filter_by(tenant_id=tenant.id).count() == 2  # one rejected candidate
    _, current = scoring.ensure_model(db, tenant, history, later + timedelta(days=1), config=FAST)
    assert current.id == good.id
    assert db.query(ModelVersion).filter_by(tenant_id=tenant.id).count() == 2  # no second attempt yet


def test_a_big_book_is_compared_on_its_newest_invoices_only(monkeypatch) -> None:
    from addon.services import scoring_gate

    history = generated_history(3, "balanced", 20, 600)
    today = after_last_date(history)
    full = scoring_gate.held_out(history, today, 0.25)
    monkeypatch.setattr(scoring_gate, "MAX_HELD_OUT", 40)
    capped = scoring_gate.held_out(history, today, 0.25)
    assert len(full) > 40
    assert [i.invoice_id for i in capped] == [i.invoice_id for i in full[-40:]]
    assert min(i.issue_date for i in capped) >= max(i.issue_date for i in full[:-40])
