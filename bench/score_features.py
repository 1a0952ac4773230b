"""DB-free scoring throughput: index a history, build point-in-time features and predict, in memory.

Prints rows/s and the share of time per stage (index, features, predict incl. reasons). The full
PostgreSQL benchmark (bench/score.py: load + persist too) is separate.

    .venv/bin/python bench/score_features.py --invoices 20000 --customers 400
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from addon.domain.scoring.features import FeatureBuilder, open_at
from addon.domain.scoring.history import as_seen_at
from addon.domain.scoring.train import TrainConfig, train_model
from addon.services.scoring_prior import generated_history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=20000)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--train-invoices", type=int, default=2000)
    parser.add_argument("--reasons", type=int, default=3, help="reasons per invoice (0 = skip pred_contribs)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    small = generated_history(args.seed, "balanced", 60, args.train_invoices)
    model = train_model(small, max(i.issue_date for i in small), TrainConfig(classifier_rounds=160))
    history = generated_history(args.seed, "balanced", args.customers, args.invoices)
    as_of = max(i.issue_date for i in history)
    targets = open_at(history, as_of)
    t0 = time.perf_counter()
    builder = FeatureBuilder(as_seen_at(history, as_of))
    t1 = time.perf_counter()
    features = builder.matrix([(inv, as_of) for inv in targets])
    t2 = time.perf_counter()
    model.predict_matrix(features)
    t3 = time.perf_counter()
    total = t3 - t0
    print(f"history {len(history)} invoices, {len(targets)} open invoices: index+features+predict {total:.2f}s "
          f"({len(targets) / total:,.0f} rows/s)")
    for name, secs in (("index", t1 - t0), ("features", t2 - t1), ("predict", t3 - t2)):
        print(f"  {name:<10}{secs:8.2f}s  {secs / total:6.1%}")
    if args.reasons:
        t4 = time.perf_counter()
        model.score_snapshots(builder, [(inv, as_of) for inv in targets], reasons=args.reasons)
        secs = time.perf_counter() - t4
        print(f"full RiskScore objects with {args.reasons} reasons: {secs:.2f}s ({len(targets) / secs:,.0f} rows/s)")


if __name__ == "__main__":
    main()
