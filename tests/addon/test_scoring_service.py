"""Scoring on the mirrored ledger: model registry, persisted scores, band-change write-back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import numpy as np
import pytest

from addon.domain.scoring.history import HistoryFrame
from addon.domain.scoring.model import RiskModel
from addon.domain.scoring.train import TrainConfig
from addon.models import AuditLog, DunningAction, Invoice, ModelVersion, RiskScore
from addon.services import collections, scoring, scoring_store
from connectors.errors import AuthError, RateLimitedError
from tests.addon.helpers import mirror_generated_company

TODAY = date(2026, 11, 1)
# Fewer boosting rounds: these tests check the plumbing, not the model (tests/domain/scoring does).
FAST = TrainConfig(classifier_rounds=40, quantile_rounds=40, nthread=1)


@pytest.fixture
def mirrored(db, make_tenant):
    """A tenant whose mirror holds a generated company with enough history for its own model."""
    tenant = make_tenant(platform="fake", remote_id="score-org")
    connector = mirror_generated_company(db, tenant, 5, customers=25, invoices=900, today=TODAY)
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
    mirror_generated_company(db, tenant, 9, customers=4, invoices=60, today=TODAY)
    from addon.services.scoring_prior import prior_histories

    summary = scoring.score_tenant(db, tenant, today=TODAY, train_config=FAST, prior_factory=lambda: prior_histories(
        invoices=400, customers=20, seeds=(101,)))
    assert summary.model_kind == "tenant+prior"
    assert summary.scored > 0


def test_a_busy_but_short_history_leans_on_the_prior_too(db, make_tenant) -> None:
    """Hundreds of settled invoices from the last ten weeks: none was due 90 days ago, so payment days
    cannot be learnt from the tenant alone."""
    tenant = make_tenant(platform="fake", remote_id="short")
    mirror_generated_company(db, tenant, 11, customers=20, invoices=700, months=2, today=TODAY)
    history, _ = scoring.tenant_history(db, tenant)
    assert not scoring.needs_prior(history, TODAY)  # plenty of settled invoices: not cold by count
    with pytest.raises(scoring.NotEnoughHistoryError, match="to learn payment days"):
        scoring.train_for_tenant(db, tenant, history, TODAY, None, FAST)
    from addon.services.scoring_prior import prior_histories

    summary = scoring.score_tenant(db, tenant, today=TODAY, train_config=FAST, prior_factory=lambda: prior_histories(
        invoices=400, customers=20, seeds=(101,)))
    assert summary.model_kind == "tenant+prior"
    assert summary.scored > 0


def test_training_twice_the_same_day_registers_two_versions(db, mirrored) -> None:
    """A manual retrain after the nightly one (same day, same history) gets a version of its own; the newest
    is the active one."""
    tenant, _ = mirrored
    history, _ = scoring.tenant_history(db, tenant)
    first = scoring.train_for_tenant(db, tenant, history, TODAY, None, FAST)
    second = scoring.train_for_tenant(db, tenant, history, TODAY, None, FAST)
    third = scoring.train_for_tenant(db, tenant, history, TODAY, None, FAST)
    db.commit()
    assert (second.version, third.version) == (f"{first.version}-2", f"{first.version}-3")
    active = db.query(ModelVersion).filter_by(tenant_id=tenant.id, active=True).all()
    assert [row.version for row in active] == [third.version]


def _by_invoice(frame: HistoryFrame) -> dict[str, tuple[object, ...]]:
    return {frame.invoice_id(i): (
        frame.customers[int(frame.customer[i])], int(frame.issue[i]), int(frame.due[i]), int(frame.paid[i]),
        float(frame.amount[i]), frame.currencies[int(frame.currency[i])], bool(frame.disputed[i]),
        int(frame.dispute_from[i]), bool(frame.credited[i]), bool(frame.partial[i]), bool(frame.sent[i]),
        int(frame.country[i])) for i in range(frame.size)}


def test_columnar_history_is_the_tenant_history_and_scores_the_same(db, mirrored) -> None:
    """history_frame (a binary COPY on PostgreSQL) holds what tenant_history's records say, and the
    scores computed from it equal RiskModel.predict on the records."""
    tenant, _ = mirrored
    frame, rows = scoring.history_frame(db, tenant)
    history, open_rows = scoring.tenant_history(db, tenant)
    assert _by_invoice(frame) == _by_invoice(HistoryFrame.from_records(history))
    assert sorted(frame.invoice_id(r) for r in rows.tolist()) == sorted(open_rows)
    model, _ = scoring.ensure_model(db, tenant, history, TODAY, config=FAST)
    by_id = {h.invoice_id: h for h in history}
    expected = model.predict([by_id[k] for k in open_rows], history, TODAY)
    got = model.predict_frame(frame, rows, TODAY)
    assert sorted(got, key=lambda s: s.invoice_id) == sorted(expected, key=lambda s: s.invoice_id)


def test_persisted_rows_are_the_score_values(db, mirrored, monkeypatch) -> None:
    """The bulk upsert (COPY + one INSERT ... ON CONFLICT on PostgreSQL) stores _score_values, twice over,
    whatever the batches."""
    tenant, _ = mirrored
    monkeypatch.setattr(scoring_store, "UPSERT_BATCH", 3)  # several batches, the last one partial
    frame, rows = scoring.history_frame(db, tenant)
    model, version = scoring.ensure_model(db, tenant, lambda: scoring.tenant_history(db, tenant)[0], TODAY,
                                          config=FAST)
    scores = model.predict_frame(frame, rows, TODAY)
    assert len(scores) > 3
    scores[0] = replace(scores[0], band="tab\there", reasons=["back\\slash", "new\nline"], p_late=0.123456)
    pks = {s.invoice_id: int(s.invoice_id) for s in scores}
    now = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    columns = ("model_version", "p_late", "band", "expected_pay_date", "p10_days", "p50_days", "p90_days",
               "reasons")
    for _ in range(2):  # insert, then update every row
        assert scoring.persist_scores(db, tenant, scores, pks, version.version, now=now) == len(scores)
        stored = {r.invoice_id: r for r in db.query(RiskScore)}
        for score in scores:
            expected = scoring_store._score_values(tenant.id, pks[score.invoice_id], score, version.version, now)
            row = stored[pks[score.invoice_id]]
            assert {c: getattr(row, c) for c in columns} == {c: expected[c] for c in columns}
            assert row.scored_at.replace(tzinfo=UTC) == now


def test_a_model_from_another_release_is_retrained_not_fatal(db, mirrored) -> None:
    """After an upgrade that changed the feature set, the stored artifact cannot be read: the next
    scoring run trains a fresh model instead of failing until the weekly retrain."""
    import io
    import json
    import zipfile

    tenant, _ = mirrored
    _, old = scoring.ensure_model(db, tenant, lambda: scoring.tenant_history(db, tenant)[0], TODAY, config=FAST)
    db.commit()
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(old.artifact)) as src, zipfile.ZipFile(buf, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "metadata.json":
                meta = json.loads(data)
                meta["features"] = [*meta["features"], "a_feature_this_release_does_not_have"]
                data = json.dumps(meta).encode()
            dst.writestr(name, data)
    old.artifact = buf.getvalue()
    old.version = f"{old.version}-previous-release"  # its digest covered the other feature set
    db.commit()
    with pytest.raises(scoring.ArtifactError):
        RiskModel.from_bytes(old.artifact)

    model, current = scoring.ensure_model(db, tenant, lambda: scoring.tenant_history(db, tenant)[0], TODAY,
                                          config=FAST)
    db.commit()
    assert current.id != old.id
    assert current.active
    assert model.version in current.version
    summary = scoring.score_tenant(db, tenant, today=TODAY, train_config=FAST)
    assert summary.scored > 0


def test_dated_payments_and_reminders_reach_the_open_invoices_features(db, mirrored) -> None:
    """Payments applied to an open invoice and the reminders sent for it are dated in the mirror, so the
    model sees the invoice's state on the scoring day, by records and by columns alike."""
    tenant, _ = mirrored
    chased = db.query(Invoice).filter(Invoice.status == "open", Invoice.amount_due > 0).order_by(Invoice.id).first()
    for stage, status, sent_at in (("first", "sent", datetime(2026, 10, 20, 9, 0, tzinfo=UTC)),
                                   ("second", "sent", datetime(2026, 10, 27, 16, 30, tzinfo=UTC)),
                                   ("third", "failed", None)):  # a failed send is not a reminder
        db.add(DunningAction(tenant_id=tenant.id, exactly_once_key=f"{chased.id}:{stage}", invoice_id=chased.id,
                             stage_key=stage, tone="polite", channel="email", status=status, sent_at=sent_at))
    others = db.query(Invoice).filter(Invoice.status == "open", Invoice.amount_due > 0, Invoice.id != chased.id
                                      ).order_by(Invoice.id).limit(2).all()
    collections.record_promise(db, tenant, chased.id, date(2026, 11, 8), date(2026, 10, 28), "user:1")
    collections.record_dispute(db, tenant, others[0].id, date(2026, 10, 25), "user:1", "wrong quantity")
    collections.record_dispute(db, tenant, others[1].id, date(2026, 10, 5), "user:1")
    collections.resolve_dispute(db, tenant, others[1].id, date(2026, 10, 20), "user:1")  # it still was disputed
    db.flush()
    history, open_rows = scoring.tenant_history(db, tenant)
    records = {h.invoice_id: h for h in history}
    assert records[str(chased.id)].reminder_dates == (date(2026, 10, 20), date(2026, 10, 27))
    assert records[str(chased.id)].promises == ((date(2026, 10, 28), date(2026, 11, 8)),)
    for other, day in zip(others, (date(2026, 10, 25), date(2026, 10, 5)), strict=True):
        assert records[str(other.id)].disputed
        assert records[str(other.id)].dispute_date == day
    assert records[str(others[1].id)].dispute_resolved_date == date(2026, 10, 20)
    part_paid = [h for h in history if h.invoice_id in open_rows and h.payments]
    assert part_paid  # the generated company has open invoices with a partial payment
    frame, rows = scoring.history_frame(db, tenant)
    state = frame.open_state(rows, np.full(len(rows), TODAY.toordinal(), dtype=np.int64))
    by_id = dict(zip((frame.invoice_id(r) for r in rows.tolist()), state.tolist(), strict=True))
    assert by_id[str(chased.id)][2:] == [2.0, 5.0, 7.0]  # two reminders, the last 5 days ago; pay in 7 days
    assert _by_invoice(frame) == _by_invoice(HistoryFrame.from_records(history))  # dispute dates included
    seen_open = {frame.invoice_id(r): bool(frame.dispute_open(np.array([r]), np.array([TODAY.toordinal()]))[0])
                 for r in rows.tolist()}
    assert seen_open[str(others[0].id)]
    assert not seen_open[str(others[1].id)]  # resolved on 20 October
    for inv in part_paid:
        paid = sum(amount for day, amount in inv.payments if day < TODAY)
        assert by_id[inv.invoice_id][0] == pytest.approx(float(paid / inv.amount))
    model, _ = scoring.ensure_model(db, tenant, history, TODAY, config=FAST)
    expected = model.predict([records[k] for k in open_rows], history, TODAY)
    got = model.predict_frame(frame, rows, TODAY)
    assert sorted(got, key=lambda s: s.invoice_id) == sorted(expected, key=lambda s: s.invoice_id)


def test_a_band_that_comes_back_is_written_again(db, mirrored) -> None:
    """low -> watch -> low with the same model: the third write is a new note, not a replay of the first
    (the ERP answers a repeated idempotency key with the first result and writes nothing)."""
    tenant, connector = mirrored
    first = scoring.score_tenant(db, tenant, today=TODAY, connector=connector, train_config=FAST)
    db.commit()
    tenant.settings = {"risk_bands": [["watch", 0.0]]}
    assert scoring.score_tenant(db, tenant, today=TODAY, connector=connector).written_back == first.scored
    db.commit()
    tenant.settings = {}
    notes = sum(len(v) for v in connector.notes.values())
    back = scoring.score_tenant(db, tenant, today=TODAY, connector=connector)
    db.commit()
    assert back.written_back == first.scored
    assert sum(len(v) for v in connector.notes.values()) == notes + first.scored
    assert all(v[-1].startswith("Cashline risk: ") and "watch" not in v[-1] for v in connector.notes.values())


def test_a_retried_run_does_not_write_the_same_note_twice(db, mirrored) -> None:
    """The job wrote to the ERP, then died before its commit: the retry sends the same keys."""
    tenant, connector = mirrored
    scoring.score_tenant(db, tenant, today=TODAY, connector=connector, train_config=FAST)
    notes = sum(len(v) for v in connector.notes.values())
    db.rollback()
    again = scoring.score_tenant(db, tenant, today=TODAY, connector=connector, train_config=FAST)
    db.commit()
    assert again.written_back == again.scored  # recorded now ...
    assert sum(len(v) for v in connector.notes.values()) == notes  # ... but nothing written twice


def test_write_back_stops_at_a_rate_limit_and_resumes_next_run(db, mirrored) -> None:
    tenant, connector = mirrored
    connector.fail_next(RateLimitedError("daily limit", retry_after=3600, problem="day"))
    first = scoring.score_tenant(db, tenant, today=TODAY, connector=connector, train_config=FAST)
    db.commit()
    assert first.written_back == 0
    assert connector.writes == []  # no call after the platform said stop
    later = scoring.score_tenant(db, tenant, today=TODAY, connector=connector)
    assert later.written_back == later.scored


def test_write_back_stops_when_the_connection_is_revoked(db, mirrored) -> None:
    tenant, connector = mirrored
    connector.fail_next(AuthError("refresh token revoked"))
    first = scoring.score_tenant(db, tenant, today=TODAY, connector=connector, train_config=FAST)
    assert first.written_back == 0
    assert connector.writes == []


def test_band_counts_are_of_the_open_invoices_scored(db, mirrored) -> None:
    """A score left from before an invoice was paid or voided is not part of the open book's bands."""
    tenant, _ = mirrored
    summary = scoring.score_tenant(db, tenant, today=TODAY, train_config=FAST)
    db.commit()
    settled = db.query(Invoice).filter(Invoice.status == "open", Invoice.amount_due > 0).first()
    settled.status, settled.amount_due = "paid", 0
    voided = db.query(Invoice).filter(Invoice.status == "open", Invoice.amount_due > 0).first()
    voided.status = "voided"
    db.commit()
    again = scoring.score_tenant(db, tenant, today=TODAY)
    assert again.scored == summary.scored - 2
    assert sum(scoring.scores_by_band(db, tenant).values()) == again.scored
