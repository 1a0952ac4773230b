"""Risk scoring for a tenant: history from the mirror, the right model, scores, and write-back.

- History (``scoring_history``, with the PostgreSQL COPY path in ``scoring_history_copy`` and the dated
  events in ``scoring_events``): every issued invoice of the tenant as the model sees it.
- Model choice (``scoring_training``): the tenant's own model once it has enough settled history, else the
  pooled prior (trained on generated histories of every behaviour mix) blended with whatever the tenant
  has. Models are versioned artifacts in ``model_versions`` with their training window and metrics. A
  retrained model replaces the active one only if the quality gate (``scoring_gate``) finds it not worse.
- Scores (``scoring_store``): one ``risk_scores`` row per open invoice, upserted in bulk.
- Write-back (``risk_writeback``): the ERP gets a risk tag/note only when an invoice's band differs
  from the band last written, idempotent per invoice and write, rate-limited and audited.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.domain.scoring.model import DEFAULT_BANDS, ArtifactError
from addon.domain.scoring.train import NotEnoughHistoryError, TrainConfig, needs_prior
from addon.models import Invoice, RiskScore, Tenant
from addon.services.risk_writeback import pending_write_back, write_back
from addon.services.scoring_gate import DEFAULT_TOLERANCES, GateTolerances
from addon.services.scoring_history import frame_pks, history_frame, tenant_history
from addon.services.scoring_store import persist_scores
from addon.services.scoring_training import DEFAULT_TRAIN_CONFIG, ensure_model, train_for_tenant
from connectors.base import AccountingConnector

__all__ = ["ArtifactError", "NotEnoughHistoryError", "ScoringSummary", "bands_for", "ensure_model",
           "history_frame", "needs_prior", "pending_write_back", "persist_scores", "score_tenant",
           "scores_by_band", "tenant_history", "train_for_tenant"]


@dataclass
class ScoringSummary:
    scored: int
    written_back: int
    model_version: str
    model_kind: str

    def as_dict(self) -> dict[str, Any]:
        return {"scored": self.scored, "written_back": self.written_back, "model_version": self.model_version,
                "model_kind": self.model_kind}


def bands_for(tenant: Tenant) -> tuple[tuple[str, float], ...]:
    configured = tenant.settings.get("risk_bands")
    return tuple((str(n), float(t)) for n, t in configured) if configured else DEFAULT_BANDS


def score_tenant(session: Session, tenant: Tenant, *, today: date, connector: AccountingConnector | None = None,
                 prior_factory: Any = None, invoice_ids: set[int] | None = None,
                 train_config: TrainConfig = DEFAULT_TRAIN_CONFIG,
                 tolerances: GateTolerances = DEFAULT_TOLERANCES) -> ScoringSummary:
    """Score open invoices (all, or ``invoice_ids``), persist, and write changed bands back."""
    # Loaded at most once: the frame reads these records where COPY is not available, and training a
    # stale model needs them too.
    records = functools.cache(lambda: tenant_history(session, tenant))
    frame, rows = history_frame(session, tenant, records)
    pks = frame_pks(frame, rows)
    if invoice_ids is not None:
        keep = np.isin(pks, np.fromiter(invoice_ids, dtype=np.int64, count=len(invoice_ids)))
        rows, pks = rows[keep], pks[keep]
    model, version = ensure_model(session, tenant, lambda: records()[0], today,
                                  prior_factory, train_config, tolerances)
    scores = model.predict_frame(frame, rows, today, bands=bands_for(tenant))
    pk_list = pks.tolist()
    persist_scores(session, tenant, scores, {s.invoice_id: pk for s, pk in zip(scores, pk_list, strict=True)},
                   version.version)
    written = 0
    if connector is not None:
        written = write_back(session, tenant, connector, pending_write_back(session, tenant, set(pk_list)))
    session.flush()
    return ScoringSummary(len(scores), written, version.version, version.kind)

def scores_by_band(session: Session, tenant: Tenant) -> dict[str, int]:
    """Open invoices per band. A paid or voided invoice keeps its last score row, which is not part of
    the open book (the same invoices ``tenant_history`` hands the scorer as open)."""
    counts: dict[str, int] = defaultdict(int)
    for band in session.scalars(select(RiskScore.band).join(Invoice, Invoice.id == RiskScore.invoice_id)
                                .where(RiskScore.tenant_id == tenant.id, Invoice.status == "open",
                                       Invoice.amount_due > 0)):
        counts[band] += 1
    return dict(counts)
