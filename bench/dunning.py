"""Benchmark the dunning planner: plan one run over many open invoices and print time and rows/s.

Planning only (sending is paced by SMTP). Target: 100,000 invoices across 10,000 customers in <= 10 s.

    .venv/bin/python bench/dunning.py                       # full size
    .venv/bin/python bench/dunning.py --invoices 5000 --customers 500
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from addon.domain.dunning import (
    DunningCustomer,
    DunningInvoice,
    DunningSettings,
    RiskBand,
    SentStage,
    default_policy,
    plan_run,
)

ZONES = ("Europe/London", "Europe/Amsterdam", "America/New_York", "Australia/Sydney")


def build(n_invoices: int, n_customers: int, seed: int, now: datetime) -> tuple[
        list[DunningInvoice], list[DunningCustomer], list[SentStage]]:
    """Synthetic open ledger: due dates from 60 days ago to 10 days ahead, some history and flags."""
    rng = random.Random(seed)
    customers = [
        DunningCustomer(f"C{i:06d}", f"Customer {i}", emails=(f"ap{i}@example.test",) if rng.random() > 0.02
                        else (), timezone=rng.choice(ZONES), reliable=rng.random() < 0.3,
                        last_reminders=tuple(now - timedelta(days=rng.randrange(1, 9)) for _ in range(
                            rng.randrange(3))))
        for i in range(n_customers)
    ]
    today = now.date()
    bands = (None, RiskBand.LOW, RiskBand.MEDIUM, RiskBand.HIGH)
    invoices, history = [], []
    for n in range(n_invoices):
        due = today + timedelta(days=rng.randrange(-60, 11))
        inv = DunningInvoice(f"I{n:07d}", f"INV-{n:07d}", f"C{rng.randrange(n_customers):06d}", "GBP",
                             Decimal(rng.randrange(2500, 500000)) / 100, due, due - timedelta(days=30),
                             disputed=rng.random() < 0.02, risk_band=rng.choice(bands),
                             billing_email=f"billing{n}@example.test" if rng.random() < 0.1 else None)
        invoices.append(inv)
        if (today - due).days > 10 and rng.random() < 0.7:
            history.append(SentStage(inv.invoice_id, "overdue_7"))
    return invoices, customers, history


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    now = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    invoices, customers, history = build(args.invoices, args.customers, args.seed, now)
    settings = DunningSettings(statutory_pack="uk", reference_rates=((date(2020, 1, 1), Decimal("4.00")),))
    policy = default_policy()
    for run in range(1, args.repeat + 1):
        started = time.perf_counter()
        plan = plan_run(invoices, customers, policy, history, now, settings)
        elapsed = time.perf_counter() - started
        lines = sum(len(a.lines) for a in plan.actions)
        print(f"run {run}: planned {len(invoices):,} invoices / {len(customers):,} customers in "
              f"{elapsed:.2f} s ({len(invoices) / elapsed:,.0f} invoices/s): {len(plan.actions):,} actions, "
              f"{lines:,} invoice lines, {len(plan.skipped):,} skipped; target <= 10 s: "
              f"{'OK' if elapsed <= 10 else 'MISSED'}")


if __name__ == "__main__":
    main()
