"""Matching benchmark as a plain script: same code as `cashline bench match`, prints figures.

    .venv/bin/python bench/match.py --invoices 100000 --lines 10000 [--seed 7] [--workers 2] [--json]
"""

from __future__ import annotations

import argparse
import json

from addon.cli.bench import format_report, run_match_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run_match_bench(args.seed, args.invoices, args.lines, args.workers)
    print(json.dumps(report, indent=2) if args.json else format_report(report))


if __name__ == "__main__":
    main()
