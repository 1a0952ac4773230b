"""The best any predictor can score on generated histories: the generator's own payment-day distribution.

For every test invoice of a generated set (the same time split as `cashline model evaluate`), the oracle
samples the generator's settlement draw (`connectors.sandbox.generator.settlement_days`) for that invoice
many times, knowing what no model can: the customer's true behaviour, its typical amount, the season, and
how far a deteriorating customer has declined. It does not know the dice (each invoice's noise, whether it
will be disputed). Its P(late) is the share of draws after the due date; its p10/p50/p90 are quantiles of
the draws, each spread over its day (plus uniform -0.5..0.5) so that whole-day outcomes can be covered 80%
rather than "at least 80%"; its p50 goes to a whole day by the model's rule.

Scored with the evaluation's own metrics on the same test invoices, it shows which targets a set allows at
all. Coverage and within_5d are judged on the paid test invoices only, so near the file's end they are the
early payers; a set where even the truth lands outside 78-82% (or below the baseline's within_5d) is one
where the target is not reachable by a better model. `--model` also trains and scores the model (as
`bench/evaluate_model.py` does), for the three columns side by side.

    .venv/bin/python bench/oracle.py --seeds 13 16                  # 24,000 invoices, the CLI's default
    .venv/bin/python bench/oracle.py --seeds 1 2 --model --invoices 6000 --customers 120
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from addon.domain.scoring.baseline import baseline_predictions
from addon.domain.scoring.calibration import whole_day_p50
from addon.domain.scoring.evaluate import compare, evaluate, targets_met, test_outcomes, time_split
from addon.domain.scoring.features import FeatureBuilder
from addon.domain.scoring.history import HistoryInvoice
from addon.domain.scoring.metrics import Predictions
from addon.services.scoring_prior import history_of
from connectors.sandbox.generator import SandboxCompany, generate_company, settlement_days

COLUMNS = ("roc_auc", "ece", "coverage_80", "within_5d", "mae_days")
TARGETS = ("auc_beats_baseline", "ece", "coverage_80", "within_5d_beats_baseline")


def oracle_predictions(company: SandboxCompany, test: Sequence[HistoryInvoice], draws: int) -> Predictions:
    """The generator's true P(late) and payment-day quantiles for each test invoice, by sampling."""
    customers = {c.id: c for c in company.customers}
    rows = []
    for inv in test:
        cust = customers[inv.customer_id]
        ratio = float(inv.amount / cust.typical_amount)
        rng = random.Random(f"oracle {company.seed} {inv.invoice_id}")
        days = np.array([settlement_days(rng, cust, inv.issue_date, inv.due_date, company.history_start, ratio)[0]
                         for _ in range(draws)], dtype=np.float64)
        spread = days + np.array([rng.random() - 0.5 for _ in range(draws)])
        rows.append((float((days > 0).mean()), *np.percentile(spread, [10, 50, 90])))
    arr = np.array(rows, dtype=np.float64).reshape(len(rows), 4)
    q = np.round(whole_day_p50(arr[:, 1:]), 1)
    return Predictions(np.round(arr[:, 0], 4), q[:, 0], q[:, 1], q[:, 2])


def run(seed: int, mix: str, customers: int, invoices: int, test_fraction: float, draws: int,
        with_model: bool) -> dict[str, Any]:
    company = generate_company(seed, customers=customers, invoices=invoices, mix=mix)
    history = history_of(company)
    _, end, test = time_split(history, test_fraction)
    builder = FeatureBuilder(history)
    base = baseline_predictions(builder, [(i, i.issue_date) for i in test])
    report = compare(oracle_predictions(company, test, draws), base, test_outcomes(test, end))
    out = {"oracle": report["model"], "customer_history": report["customer_history"],
           "oracle_targets": targets_met(report), "n_test_paid": report["n_test_paid"]}
    if with_model:
        model_report = evaluate(history, test_fraction).report
        out["model"], out["model_targets"] = model_report["model"], model_report["targets_met"]
    return out


def flags(targets: dict[str, bool]) -> str:
    return "".join("Y" if targets[k] else "n" for k in TARGETS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixes", nargs="+", default=["balanced", "mostly_reliable", "distressed"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--invoices", type=int, default=24000)
    parser.add_argument("--customers", type=int, default=480)
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--draws", type=int, default=1000, help="samples of each test invoice's settlement")
    parser.add_argument("--model", action="store_true", help="also train and score the model on each set")
    args = parser.parse_args()
    methods = ["oracle", "model", "customer_history"] if args.model else ["oracle", "customer_history"]
    print(f"{'mix':<16}{'seed':>5}{'paid':>6}  " + "  ".join(f"{c:>{8 * len(methods)}}" for c in COLUMNS)
          + "  targets(auc,ece,cov,w5) oracle" + (" / model" if args.model else "") + "   secs")
    tally = {m: dict.fromkeys(TARGETS, 0) for m in ("oracle", "model")}
    all_four = {"oracle": 0, "model": 0}
    runs = 0
    for mix in args.mixes:
        for seed in args.seeds:
            started = time.perf_counter()
            r = run(seed, mix, args.customers, args.invoices, args.test_fraction, args.draws, args.model)
            runs += 1
            for who in ("oracle", "model"):
                if f"{who}_targets" in r:
                    for key, ok in r[f"{who}_targets"].items():
                        tally[who][key] += int(ok)
                    all_four[who] += int(all(r[f"{who}_targets"].values()))
            cells = "  ".join("/".join(f"{r[m][c]:.3f}" for m in methods) for c in COLUMNS)
            marks = flags(r["oracle_targets"]) + (f" / {flags(r['model_targets'])}" if args.model else "")
            secs = time.perf_counter() - started
            print(f"{mix:<16}{seed:>5}{r['n_test_paid']:>6}  {cells}  {marks:>12}   {secs:5.1f}", flush=True)
    print("(cells are " + "/".join(methods) + ")")
    for who in ("oracle", "model") if args.model else ("oracle",):
        print(f"{who} meets: " + ", ".join(f"{k} {v}/{runs}" for k, v in tally[who].items())
              + f"; all four {all_four[who]}/{runs}")


if __name__ == "__main__":
    main()
