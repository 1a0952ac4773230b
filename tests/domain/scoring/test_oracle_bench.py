"""bench/oracle.py: the generator's own payment-day distribution, scored like the model.

The oracle is the yardstick the docs measure the model's misses against, so it must really be the truth:
sampled through the very draw the generator settles invoices with, it has to beat the customer-history
baseline on every payment-day figure and cover close to 80% of a generated book."""

from __future__ import annotations

import importlib.util
import random
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from connectors.sandbox.generator import generate_company, settlement_days

BENCH = Path(__file__).resolve().parents[3] / "bench" / "oracle.py"


def _oracle_module():
    spec = importlib.util.spec_from_file_location("bench_oracle", BENCH)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_settlement_days_draws_each_behaviour_as_documented() -> None:
    """The one draw the generator settles invoices with (and the oracle samples): a slow payer about three
    weeks late, a reliable one around the due date; disputes (a quarter of a disputing customer's invoices,
    1% of others') add 10-39 days; nothing is settled before its issue date."""
    company = generate_company(3, customers=40, invoices=10, mix="balanced")
    issue = date(2026, 3, 2)
    due = issue + timedelta(days=7)
    by_behaviour = {c.behaviour: c for c in company.customers}
    rng = random.Random(1)

    def draw(behaviour: str) -> tuple[np.ndarray, np.ndarray]:
        out = [settlement_days(rng, by_behaviour[behaviour], issue, due, company.history_start, 1.0)
               for _ in range(4000)]
        return np.array([d for d, _ in out]), np.array([disputed for _, disputed in out])

    slow, slow_disputed = draw("slow")
    assert 19 <= np.median(slow) <= 25
    assert 0.003 < slow_disputed.mean() < 0.02
    reliable, _ = draw("reliable")
    assert -4 <= np.median(reliable) <= 0
    assert reliable.min() >= -7
    disputing, disputing_disputed = draw("disputing")
    assert 0.22 < disputing_disputed.mean() < 0.30
    assert np.median(disputing[disputing_disputed]) - np.median(disputing[~disputing_disputed]) > 15


def test_the_oracle_beats_the_baseline_and_covers_about_80_percent() -> None:
    oracle = _oracle_module()
    result = oracle.run(1, "balanced", customers=60, invoices=3000, test_fraction=0.25, draws=300,
                        with_model=False)
    truth, base = result["oracle"], result["customer_history"]
    assert truth["mae_days"] < base["mae_days"]
    assert truth["within_5d"] > base["within_5d"]
    assert truth["roc_auc"] > base["roc_auc"]
    assert abs(truth["coverage_80"] - 0.8) < 0.04
    assert np.isfinite(truth["ece"])
    assert truth["ece"] < 0.05
