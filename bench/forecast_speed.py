"""Time the dashboard's 13-week cash-in forecast on a big tenant, against the per-invoice loop it replaced.

Builds ``--invoices`` open invoices (seeded: amounts, due dates from a year overdue to three months ahead,
quantiles as the risk model gives them, some unscored defaults, ``--customers`` customers), runs the
old per-invoice, per-week loop (tests/domain/forecast_reference.py) and ``forecast_cash``, checks that every
week's figures are the same Decimals, and prints both times and the ratio. Target: well under 200 ms at
12,000 open invoices.

    .venv/bin/python bench/forecast_speed.py
    .venv/bin/python bench/forecast_speed.py --invoices 50000 --customers 5000 --repeat 3
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from addon.domain.forecasting import OpenAmount, forecast_cash
from bench.support import best_of
from tests.domain.forecast_reference import reference_forecast_cash

TODAY = date(2026, 12, 7)


def open_invoices(n: int, customers: int, seed: int) -> list[OpenAmount]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        p50 = rng.randint(-10, 60)
        p10, p90 = p50 - rng.randint(0, 25), p50 + rng.randint(0, 60)
        if rng.random() < 0.1:
            p10, p50, p90 = -3, 5, 30  # unscored: the service's default spread
        if rng.random() < 0.02:
            p10, p50, p90 = p90, p10, p50  # out of order, as a stale score can be
        out.append(OpenAmount(f"I{i}", Decimal(rng.randint(100, 5_000_000)) / 100,
                              TODAY + timedelta(days=rng.randint(-365, 90)), p10, p50, p90,
                              customer_id=f"C{rng.randrange(customers)}" if rng.random() > 0.05 else ""))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=12_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs each")
    args = parser.parse_args()
    items = open_invoices(args.invoices, args.customers, args.seed)
    old, expected = best_of(args.repeat, lambda: reference_forecast_cash(items, TODAY, weeks=13))
    new, got = best_of(args.repeat, lambda: forecast_cash(items, TODAY, weeks=13))
    same = got == expected
    print(f"{args.invoices:,} open invoices, {args.customers:,} customers, 13 weeks (best of {args.repeat})")
    print(f"per-invoice loop : {old * 1000:8.1f} ms")
    print(f"forecast_cash    : {new * 1000:8.1f} ms")
    print(f"ratio            : {old / new:8.1f}x faster; identical weeks to the cent: {same}")
    if not same:
        sys.exit("forecast_cash differs from the per-invoice loop")


if __name__ == "__main__":
    main()
