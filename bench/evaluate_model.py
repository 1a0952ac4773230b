"""Evidence for the risk-model targets: evaluate on generated histories of several mixes and seeds.

Runs the same pipeline as `cashline model evaluate` (time split, train before the cut-off, score test
invoices at issue) and prints model vs the customer_history baseline per dataset, then how many
datasets meet each target. Small sizes run in seconds; the documented figures use the defaults.

    .venv/bin/python bench/evaluate_model.py --invoices 6000 --customers 120 --seeds 1 2 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from addon.domain.scoring.evaluate import evaluate
from addon.services.scoring_prior import generated_history

COLUMNS = ("roc_auc", "ece", "coverage_80", "width_80", "within_5d", "mae_days")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixes", nargs="+", default=["balanced", "mostly_reliable", "distressed"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--invoices", type=int, default=6000)
    parser.add_argument("--customers", type=int, default=120)
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--json", action="store_true", help="also print one JSON line per dataset")
    args = parser.parse_args()
    header = f"{'mix':<16}{'seed':>5}{'n_test':>7}  " + "  ".join(f"{c:>17}" for c in COLUMNS)
    print(header + "   AUC diff [95% CI]        targets(auc,ece,cov,w5)  secs")
    met = {"auc_beats_baseline": 0, "ece": 0, "coverage_80": 0, "within_5d_beats_baseline": 0}
    runs = 0
    for mix in args.mixes:
        for seed in args.seeds:
            started = time.perf_counter()
            history = generated_history(seed, mix, args.customers, args.invoices)
            report = evaluate(history, args.test_fraction).report
            secs = time.perf_counter() - started
            runs += 1
            for key, ok in report["targets_met"].items():
                met[key] += int(ok)
            cells = "  ".join(f"{report['model'][c]:>8.3f}/{report['customer_history'][c]:<8.3f}" for c in COLUMNS)
            d = report["roc_auc_difference"]
            flags = "".join("Y" if v else "n" for v in report["targets_met"].values())
            print(f"{mix:<16}{seed:>5}{report['n_test']:>7}  {cells}   {d['estimate']:+.3f} "
                  f"[{d['ci95_low']:+.3f},{d['ci95_high']:+.3f}]   {flags:>8}  {secs:6.1f}", flush=True)
            if args.json:
                print(json.dumps({"mix": mix, "seed": seed, **report}), flush=True)
    print("(cells are model/baseline)")
    print("targets met: " + ", ".join(f"{k} {v}/{runs}" for k, v in met.items()))


if __name__ == "__main__":
    main()
