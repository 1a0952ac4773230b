"""Scoring a whole book reuses per-(customer, day) blocks; the features must not change because of it."""

from __future__ import annotations

from datetime import date

import numpy as np

from addon.domain.scoring.features import FeatureBuilder
from addon.domain.scoring.history import as_seen_at
from addon.services.scoring_prior import generated_history


def test_shared_blocks_give_the_same_features_as_scoring_each_invoice_alone() -> None:
    history = generated_history(3, "distressed", 12, 600)
    as_of = date(2026, 3, 15)
    seen = as_seen_at(history, as_of)
    snapshots = [(inv, as_of) for inv in seen if inv.paid_date is None or inv.paid_date >= as_of]
    snapshots += [(inv, as_of) for inv in seen[:60]]  # settled ones too: the "self" adjustments differ
    together = FeatureBuilder(seen).matrix(snapshots).values
    alone = np.vstack([FeatureBuilder(seen).row(inv, day) for inv, day in snapshots])
    assert len(snapshots) > 50
    np.testing.assert_allclose(together, alone, rtol=1e-9, atol=1e-9, equal_nan=True)
