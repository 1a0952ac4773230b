"""Backtest of the 13-week cash-in forecast on generated histories: does the 80% band mean what it says?

For each mix (and seed), the risk model is trained on what was known at the first forecast date; then at
several forecast dates (every ``--step`` weeks) the invoices open that day are scored with features known
that day, forecast per currency exactly as the dashboard does (``forecast_cash``), and compared with the
payments that actually arrived in each of the next 13 weeks. Printed per dataset and overall:

- ``wape``: sum over weeks of |actual - expected| / sum of actual (weekly error, share of the cash);
- ``cum``: mean over weeks of |cumulative actual - cumulative expected| / total actual of the 13 weeks;
- ``cov80``: share of weeks whose actual total lies inside the 80% band (target ~0.80);
- ``cum80``: share of weeks whose cumulative actual lies inside the band of the cumulative total;
- ``tot``: sum over forecasts of |13 weeks' expected - 13 weeks' actual| / total actual (the error of the
  total collected);
- the same errors for the naive baselines: everything paid on due date + the customer's median past delay
  (``naive``), or on the due date (``due``); anything dated before the forecast date lands in week 1.

With ``--write-offs`` the companies write bad debt off (the emulators' companies) and the forecast is run
with the provision matrix measured on what was known that day (``forecast``) and without it
(``no_provision``: every open invoice assumed to be paid).

    .venv/bin/python bench/forecast.py                                   # 3 mixes x 1 seed, ~2 minutes
    .venv/bin/python bench/forecast.py --seeds 1 2 3 --invoices 24000 --customers 480 --dates 8
    .venv/bin/python bench/forecast.py --write-offs                      # the provision, with and without
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from addon.domain.forecasting import ForecastWeek, OpenAmount, forecast_cash
from addon.domain.scoring.history import HistoryInvoice, as_seen_at, last_date
from addon.domain.scoring.train import TrainConfig, train_model
from addon.domain.write_offs import PastInvoice, provision_matrix, rate_for
from addon.services.scoring_prior import generated_history
from connectors.sandbox.generator import SandboxCompany, SandboxInvoice, generate_company

WEEKS = 13
ZERO = Decimal("0")
OpenRow = tuple[str, str, str, date, Decimal, list[tuple[date, Decimal]]]


@dataclass(slots=True)
class Tally:
    """Errors summed over forecasts (per method) and band hits over weeks."""

    abs_weekly: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    abs_cum: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    abs_total: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    actual: float = 0.0
    actual_cum: float = 0.0
    weeks: int = 0
    inside: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    inside_cum: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    bias: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, other: Tally) -> None:
        for mine, theirs in ((self.abs_weekly, other.abs_weekly), (self.abs_cum, other.abs_cum),
                             (self.abs_total, other.abs_total), (self.bias, other.bias)):
            for k, v in theirs.items():
                mine[k] += v
        for mine_i, theirs_i in ((self.inside, other.inside), (self.inside_cum, other.inside_cum)):
            for k, n in theirs_i.items():
                mine_i[k] += n
        self.actual += other.actual
        self.actual_cum += other.actual_cum
        self.weeks += other.weeks


def open_at(company: SandboxCompany, day: date) -> list[OpenRow]:
    """(invoice id, customer, currency, due date, amount due at ``day``, payments on or after ``day``) of
    the invoices issued by ``day`` with money still due at its start."""
    out = []
    for inv in company.invoices:
        # A write-off voided after ``day`` was open that day (and is never paid).
        if (inv.voided and not (inv.written_off_on and inv.written_off_on >= day)) or inv.issue_date > day:
            continue
        before = sum((p.amount for p in inv.payments if p.date < day), ZERO)
        credited = sum((c.amount for c in inv.credit_notes if c.date < day), ZERO)
        due = inv.total - before - credited
        if due > 0:
            out.append((inv.id, inv.customer_id, inv.currency, inv.due_date, due,
                        [(p.date, p.amount) for p in inv.payments if p.date >= day]))
    return out


def known_at(inv: SandboxInvoice, day: date) -> PastInvoice:
    """What the ledger said about ``inv`` on ``day`` (before that day's events), for the provision matrix."""
    if inv.voided:
        # Voided as bad debt on its write-off day; the generator's other voids cancel a sale at once.
        when = inv.written_off_on or inv.issue_date
        if when < day:
            return PastInvoice(inv.id, inv.due_date, "voided", closed_on=when)
        return PastInvoice(inv.id, inv.due_date, "open")
    pays = tuple(p.date for p in inv.payments if p.date < day)
    credits = tuple(c.date for c in inv.credit_notes if c.date < day)
    settled = sum((p.amount for p in inv.payments if p.date < day), ZERO) + sum(
        (c.amount for c in inv.credit_notes if c.date < day), ZERO)
    return PastInvoice(inv.id, inv.due_date, "paid" if settled >= inv.total else "open",
                       payment_dates=pays, credit_dates=credits)


def median_delays(history: Sequence[HistoryInvoice], day: date) -> dict[str, float]:
    """Each customer's median days past due of the invoices it had settled before ``day``."""
    delays: dict[str, list[int]] = defaultdict(list)
    for inv in history:
        if inv.paid_date is not None and inv.paid_date < day:
            delays[inv.customer_id].append((inv.paid_date - inv.due_date).days)
    return {c: statistics.median(d) for c, d in delays.items()}


def point_forecast(rows: Sequence[tuple[date, Decimal]], today: date) -> list[float]:
    """Weekly totals when each (pay date, amount) is paid on its date (a date already past: week 1)."""
    weeks = [0.0] * WEEKS
    for when, amount in rows:
        w = max(0, (when - today).days) // 7
        if w < WEEKS:
            weeks[w] += float(amount)
    return weeks


def score(actual: list[float], methods: dict[str, list[float]], bands: dict[str, list[ForecastWeek]],
          cum_bands: dict[str, list[tuple[float, float]]]) -> Tally:
    t = Tally(actual=sum(actual), weeks=len(actual))
    cum_actual = [sum(actual[:w + 1]) for w in range(len(actual))]
    t.actual_cum = sum(actual)  # cumulative errors are averaged over weeks, relative to the 13 weeks' cash
    for name, weekly in methods.items():
        cum = [sum(weekly[:w + 1]) for w in range(len(weekly))]
        t.abs_weekly[name] = sum(abs(a - e) for a, e in zip(actual, weekly, strict=True))
        t.abs_cum[name] = sum(abs(a - e) for a, e in zip(cum_actual, cum, strict=True)) / len(actual)
        t.bias[name] = sum(weekly) - sum(actual)
        t.abs_total[name] = abs(t.bias[name])
    for name, weeks in bands.items():
        t.inside[name] = sum(float(w.low) <= a <= float(w.high) for a, w in zip(actual, weeks, strict=True))
    for name, cband in cum_bands.items():
        t.inside_cum[name] = sum(lo <= a <= hi for a, (lo, hi) in zip(cum_actual, cband, strict=True))
    return t


def forecast_dates(history: Sequence[HistoryInvoice], dates: int, step_weeks: int) -> list[date]:
    """``dates`` forecast dates ``step_weeks`` apart, the last one 13 weeks before the file ends (so every
    forecast week has its outcome)."""
    last = last_date(history) - timedelta(days=7 * WEEKS)
    return [last - timedelta(days=7 * step_weeks * k) for k in reversed(range(dates))]


def backtest(seed: int, mix: str, customers: int, invoices: int, dates: int, step: int,
             variants: dict[str, dict[str, float]], stale_days: int = 0,
             write_offs: bool = False) -> tuple[Tally, int]:
    company = generate_company(seed, customers=customers, invoices=invoices, mix=mix, write_offs=write_offs)
    history = generated_history(seed, mix, customers, invoices, write_offs=write_offs)
    days = forecast_dates(history, dates, step)
    model = train_model(history, days[0], TrainConfig())
    total = Tally()
    forecasts = 0
    by_id = {i.invoice_id: i for i in history}
    for day in days:
        rows = open_at(company, day)
        # The provision as the dashboard would have measured it that day (no write-offs: all rates 0).
        matrix = provision_matrix([known_at(inv, day) for inv in company.invoices], day) if write_offs else None
        # A write-off voided later is open today but not in the risk model's history (voided invoices are not).
        history_rows = [by_id[r[0]] if r[0] in by_id else _as_history(company, r[0]) for r in rows]
        by_id.update({h.invoice_id: h for h in history_rows})
        scores = {s.invoice_id: s for s in model.predict(history_rows, history, day, reasons=0)}
        if stale_days:
            # As if the nightly scoring had stopped ``stale_days`` ago: invoices open then keep that score.
            then = day - timedelta(days=stale_days)
            old = [by_id[r[0]] for r in rows if by_id[r[0]].issue_date <= then]
            scores.update({s.invoice_id: s for s in model.predict(old, history, then, reasons=0)})
        medians = median_delays(as_seen_at(history, day), day)
        by_currency: dict[str, list[OpenRow]] = defaultdict(list)
        for row in rows:
            by_currency[row[2]].append(row)
        for group in by_currency.values():
            items, unprovisioned = [], []
            for inv_id, customer, _, due, amount, _ in group:
                s = scores[inv_id]
                p_never = float(rate_for(matrix, (day - due).days)) if matrix is not None else 0.0
                item = OpenAmount(inv_id, amount, due, round(s.p10_days), round(s.p50_days), round(s.p90_days),
                                  customer_id=customer, p_never=p_never)
                items.append(item)
                unprovisioned.append(replace(item, p_never=0.0))
            actual = point_forecast([p for row in group for p in row[5]], day)
            methods: dict[str, list[float]] = {
                "naive": point_forecast([(due + timedelta(days=round(medians.get(c, 0))), a)
                                         for _, c, _, due, a, _ in group], day),
                "due": point_forecast([(due, a) for _, _, _, due, a, _ in group], day),
            }
            bands, cum_bands = {}, {}
            for name, options in variants.items():
                weeks = forecast_cash(items, day, weeks=WEEKS, **options)  # type: ignore[arg-type]
                methods[name] = [float(w.expected) for w in weeks]
                bands[name] = weeks
                cum_bands[name] = [(float(w.cumulative_low), float(w.cumulative_high)) for w in weeks]
            if write_offs:
                weeks = forecast_cash(unprovisioned, day, weeks=WEEKS)
                methods["no_provision"] = [float(w.expected) for w in weeks]
                bands["no_provision"] = weeks
                cum_bands["no_provision"] = [(float(w.cumulative_low), float(w.cumulative_high)) for w in weeks]
            total.add(score(actual, methods, bands, cum_bands))
            forecasts += 1
    return total, forecasts


def _as_history(company: SandboxCompany, invoice_id: str) -> HistoryInvoice:
    """A voided write-off (left out of the risk model's history) as it looked while still open."""
    inv = next(i for i in company.invoices if i.id == invoice_id)
    return HistoryInvoice(invoice_id=inv.id, customer_id=inv.customer_id, issue_date=inv.issue_date,
                          due_date=inv.due_date, amount=inv.total, currency=inv.currency, paid_date=None,
                          disputed=inv.disputed, sent=inv.sent)


def line(label: str, t: Tally, names: Sequence[str]) -> str:
    cells = []
    for name in names:
        cell = (f"{t.abs_weekly[name] / t.actual:>6.3f} {t.abs_cum[name] / t.actual:>6.3f} "
                f"{t.abs_total[name] / t.actual:>6.3f} {t.bias[name] / t.actual:>+6.3f}")
        if name in t.inside:
            cell += f" {t.inside[name] / t.weeks:>5.2f} {t.inside_cum[name] / t.weeks:>5.2f}"
        cells.append(cell)
    return f"{label:<22}" + " | ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixes", nargs="+", default=["balanced", "mostly_reliable", "distressed"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1])
    parser.add_argument("--invoices", type=int, default=8000)
    parser.add_argument("--customers", type=int, default=160)
    parser.add_argument("--dates", type=int, default=5, help="forecast dates per dataset")
    parser.add_argument("--step", type=int, default=4, help="weeks between forecast dates")
    parser.add_argument("--correlations", nargs="+", type=float,
                        help="compare these customer correlations instead of independent vs the default")
    parser.add_argument("--stale-days", type=int, default=0,
                        help="forecast from scores this many days old (the nightly scoring stopped)")
    parser.add_argument("--write-offs", action="store_true",
                        help="companies that write bad debt off; compare the forecast with and without the provision")
    args = parser.parse_args()
    variants: dict[str, dict[str, float]] = {"independent": {"customer_correlation": 0.0}, "forecast": {}}
    if args.correlations:
        variants = {f"rho={r:g}": {"customer_correlation": r} for r in args.correlations}
    banded = [*variants, *(["no_provision"] if args.write_offs else [])]
    names = ["naive", "due", *banded]
    print(f"{'dataset':<22}" + " | ".join(f"{n:<27}" for n in names))
    print(f"{'':<22}" + " | ".join("  wape    cum    tot   bias  cov80 cum80" if n in banded
                                   else "  wape    cum    tot   bias" for n in names))
    overall = Tally()
    for mix in args.mixes:
        for seed in args.seeds:
            started = time.perf_counter()
            t, n = backtest(seed, mix, args.customers, args.invoices, args.dates, args.step, variants,
                            args.stale_days, args.write_offs)
            overall.add(t)
            print(line(f"{mix} {seed}", t, names) + f"   ({n} forecasts, {t.weeks} weeks, "
                  f"{time.perf_counter() - started:.0f}s)", flush=True)
    print(line("all", overall, names))
    print("(wape: sum |weekly error| / actual; cum: mean |cumulative error| / 13 weeks' actual; tot: sum over "
          "forecasts of |13 weeks' error| / actual; bias: (forecast - actual) / actual; cov80/cum80: share of "
          "weeks inside the weekly / cumulative 80% band)")
    for name in banded:
        print(f"{name}: weekly error {overall.abs_weekly[name] / overall.abs_weekly['naive']:.2f}x naive's, "
              f"cumulative error {overall.abs_cum[name] / overall.abs_cum['naive']:.2f}x naive's, "
              f"weekly band coverage {overall.inside[name] / overall.weeks:.2f} (target 0.80)")


if __name__ == "__main__":
    main()
