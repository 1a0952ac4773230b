"""Scoring on the mirrored ledger: model registry, persisted scores, band-change write-back."""

from __future__ import annotations

from datetime import date

import pytest

from addon.domain.scoring.model import RiskModel
from addon.domain.scoring.train import TrainConfig
from addon.models import AuditLog, Invoice, ModelVersion, RiskScore
from addon.services import scoring, sync
from connectors.fake import InMemoryConnector
from connectors.sandbox.domain import as_domain
from connectors.sandbox.generator import generate_company

TODAY = date(2026, 11, 1)
# Fewer boosting rounds: these tests check the plumbing, not the model (tests/domain/scoring does).
FAST = TrainConfig(classifier_rounds=40, quantile_rounds=40, nthread=1)


@pytest.fixture
def mirrored(db, make_tenant):
    """A tenant whose mirror holds a generated company with enough history for its own model."""
    tenant = make_tenant(platform="fake", remote_id="score-org")
    company = generate_company(5, customers=25, invoices=900, today=TODAY)
    connector = InMemoryConnector(tenant_remote_id="score-org")
    contacts, invoices, payments, credits = as_domain(company)
    connector.seed(contacts=contacts, invoices=invoices, payments=payments, credit_notes=credits)
    sync.backfill(db, tenant, connector, now=scoring.datetime.now(scoring.UTC))
    db.commit()
    return tenant, connector


def test_scores_every_open_invoice_and_registers_the_model(db, mirrored) -> None:
    tenant, connector = mirrored
    summary = scoring.score_tenant(db, tenant, today=TODAY, connector=connector, train_config=FAST)
    db.commit()
    open_count = db.query(Invoice).filter(Invoice.status == "open", Invoice.amount_due > 0).count()
    assert summary.scored == open_count == db.query(RiskScore).count() > 0
    version = db.query(ModelVersion).one()
    assert version.tenant_id == tenant.id
    assert version.active
    assert version.kind == "tenant"
    assert version.trained_to == TODAY
    assert RiskModel.from_bytes(version.artifact).version in version.version
    row = db.query(RiskScore).first()
    assert 0 <= row.p_late <= 1
    assert row.p10_days <= row.p50_days <= row.p90_days
    assert row.reasons
    assert all(isinstance(r, str) for r in row.reasons)
    assert row.band in {"low", "medium", "high"}


def test_write_back_only_when_the_band_changes(db, mirrored) -> None:
    tenant, connector = mirrored
    first = scoring.score_tenant(db, tenant, today=TODAY, connector=connector, train_config=FAST)
    db.commit()
    assert first.written_back == first.scored
    notes = sum(len(v) for v in connector.notes.values())
    assert notes == first.scored
    assert any("Cashline risk:" in n for v in connector.notes.values() for n in v)
    assert db.query(AuditLog).filter_by(action="risk.written_back").count() == first.scored

    again = scoring.score_tenant(db, tenant, today=TODAY, connector=connector, train_config=FAST)
    db.commit()
    assert again.written_back == 0  # same bands: nothing new in the ERP
    assert sum(len(v) for v in connector.notes.values()) == notes

    row = db.query(RiskScore).first()
    row.written_band = "something-else"  # as if the band had changed since the last write
    db.commit()
    third = scoring.score_tenant(db, tenant, today=TODAY, connector=connector, train_config=FAST)
    assert third.written_back == 1


def test_bands_and_wording_are_configurable_per_tenant(db, mirrored) -> None:
    tenant, connector = mirrored
    tenant.settings = {"risk_bands": [["ok", 0.0], ["watch", 0.2], ["chase", 0.5]],
                       "risk_note_template": "Risk {band}: {percent}%"}
    scoring.score_tenant(db, tenant, today=TODAY, connector=connector, train_config=FAST)
    assert {r.band for r in db.query(RiskScore)} <= {"ok", "watch", "chase"}
    assert all(n.startswith("Risk ") for v in connector.notes.values() for n in v)


def test_cold_tenant_uses_the_pooled_prior(db, make_tenant) -> None:
    tenant = make_tenant(platform="fake", remote_id="cold")
    company = generate_company(9, customers=4, invoices=60, today=TODAY)
    connector = InMemoryConnector(tenant_remote_id="cold")
    contacts, invoices, payments, credits = as_domain(company)
    connector.seed(contacts=contacts, invoices=invoices, payments=payments, credit_notes=credits)
    sync.backfill(db, tenant, connector, now=scoring.datetime.now(scoring.UTC))
    from addon.services.scoring_prior import prior_histories

    summary = scoring.score_tenant(db, tenant, today=TODAY, train_config=FAST, prior_factory=lambda: prior_histories(
        invoices=400, customers=20, seeds=(101,)))
    assert summary.model_kind == "tenant+prior"
    assert summary.scored > 0
