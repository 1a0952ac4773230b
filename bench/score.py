"""End-to-end scoring benchmark on PostgreSQL: load history, build features, predict, persist.

One tenant's mirror holds ``--history`` settled invoices plus ``--open`` open ones (issue 6 target:
100,000 open invoices scored with features from 1,000,000 historical ones in <= 20 s on 2 cores).
The timed section is one real ``addon.services.scoring.score_tenant`` call plus its commit. The stages
are measured by wrapping the functions it calls:

- load:     ``history_frame`` (one binary COPY read into numpy columns) and ``ensure_model`` (artifact);
- features: ``HistoryFrame.seen_at`` + ``FeatureBuilder`` indexing + ``frame_snapshots`` + ``matrix``;
- predict:  the rest of ``RiskModel.predict_frame``: XGBoost, calibration, contributions and reasons;
- persist:  ``persist_scores`` (COPY into a temporary table + one INSERT ... ON CONFLICT DO UPDATE)
            and the commit.

The model is trained once, before the timer starts, on a sample of the generated customers, and
registered as the tenant's active model so ``score_tenant`` does not retrain inside the timed section.

The data lives in its own schema (``--schema``, default ``cashline_bench``) so test runs that empty
the public tables do not touch it. It is dropped at the end unless ``--keep``; with ``--keep`` a later
run with the same sizes and seed reuses the data and model.

Customers and their payment behaviours come from the sandbox generator; invoice volume is drawn
with numpy using the same behaviour rules and loaded with COPY.

    .venv/bin/python bench/score.py --history 100000 --open 10000
    .venv/bin/python bench/score.py                       # full size: 1,000,000 + 100,000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, create_engine, delete, func, select, text
from sqlalchemy.orm import Session

from addon.domain.scoring.features import FeatureBuilder
from addon.domain.scoring.history import HistoryFrame, HistoryInvoice
from addon.domain.scoring.model import ArtifactError, RiskModel
from addon.domain.scoring.train import train_model
from addon.models import Base, Customer, Invoice, ModelVersion, RiskScore, Tenant
from addon.services import scoring, scoring_history
from connectors.sandbox.generator import BEHAVIOURS, TERMS_DAYS, SandboxCustomer, generate_company

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_SECONDS = 20.0
TARGET_OPEN, TARGET_HISTORY = 100_000, 1_000_000
TODAY = date(2026, 11, 1)
HISTORY_YEARS = 3
IntArray = npt.NDArray[np.int64]


# --- data set ------------------------------------------------------------------------------------


@dataclass
class BenchData:
    """Generated invoices as columns; history rows first, then the open ones."""

    customers: list[SandboxCustomer]
    cust: IntArray  # index into customers
    issue: IntArray  # date ordinals
    due: IntArray
    paid: IntArray  # 0 while open
    total: npt.NDArray[np.float64]
    disputed: npt.NDArray[np.bool_]
    sent: npt.NDArray[np.bool_]


def generate(history: int, open_: int, customers: int, seed: int) -> BenchData:
    """Customers and behaviours from the sandbox generator, invoice volume from numpy (same rules)."""
    custs = generate_company(seed, customers=customers, invoices=1, today=TODAY).customers
    rng = np.random.default_rng(seed)
    weights = rng.pareto(1.3, customers) + 1.0  # a few big customers and a long tail, as the generator
    n, end = history + open_, TODAY.toordinal()
    start = end - 365 * HISTORY_YEARS
    cust = rng.choice(customers, size=n, p=weights / weights.sum())
    # History is issued early enough to be settled by TODAY; open invoices in the last four months.
    issue = np.concatenate([rng.integers(start, end - 100, history), rng.integers(end - 120, end, open_)])
    due = issue + rng.choice(np.array(TERMS_DAYS), n)
    typical = np.array([float(c.typical_amount) for c in custs])[cust]
    total = np.maximum(np.round(typical * np.exp(rng.normal(0.0, 0.6, n)), 2), 25.0)
    behaviour = np.array([BEHAVIOURS.index(c.behaviour) for c in custs])[cust]
    disputed = ((behaviour == BEHAVIOURS.index("disputing")) & (rng.random(n) < 0.25)) | (rng.random(n) < 0.01)
    delay = _delays(rng, behaviour, issue, start, total / typical)
    settle = np.clip(due + delay + np.where(disputed, rng.integers(10, 40, n), 0), issue, end - 1)
    paid = np.where(np.arange(n) < history, settle, 0)
    return BenchData(custs, cust, issue, due, paid, total, disputed, rng.random(n) < 0.9)


def _delays(rng: np.random.Generator, behaviour: IntArray, issue: IntArray, start: int,
            ratio: npt.NDArray[np.float64]) -> IntArray:
    """Days after due per invoice: connectors.sandbox.generator.payment_delay_days, vectorised."""
    n = len(issue)
    month = (issue - date(1970, 1, 1).toordinal()).astype("datetime64[D]").astype("datetime64[M]")
    month = month.astype(np.int64) % 12 + 1
    late_season = np.isin(month, (11, 12, 1, 7, 8))
    by_behaviour = {
        "reliable": rng.normal(-2, 3, n) + (rng.random(n) < 0.05) * rng.exponential(12, n),
        "slow": rng.normal(22, 9, n),
        "seasonal": np.where(late_season, rng.normal(25, 8, n), rng.normal(0, 4, n)),
        "deteriorating": rng.normal(-1 + 2.2 * (issue - start) / 30.44, 5),
        "disputing": rng.normal(15, 12, n),
    }
    delay = np.choose(behaviour, [by_behaviour[b] for b in BEHAVIOURS])
    return np.round(delay + 4.0 * np.log(np.maximum(ratio, 0.05))).astype(np.int64)


def _iso(ordinals: IntArray) -> list[str]:
    days = (ordinals - date(1970, 1, 1).toordinal()).astype("datetime64[D]")
    return list(np.datetime_as_string(days))


def copy_into(engine: Engine, tenant_id: int, data: BenchData) -> None:
    """Bulk-load customers and invoices with COPY, then ANALYZE so the planner knows the sizes."""
    raw = engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        with conn.cursor() as cur:
            with cur.copy("COPY customers (tenant_id, remote_id, name, emails, currency, bank_accounts, "
                          "timezone, archived) FROM STDIN") as copy:
                for c in data.customers:
                    copy.write_row((tenant_id, c.id, c.name, f'["{c.email}"]', c.currency, "[]", c.timezone,
                                    False))
            ids = dict(cur.execute("SELECT remote_id, id FROM customers WHERE tenant_id = %s",
                                   (tenant_id,)).fetchall())
            _copy_invoices(cur, tenant_id, data, [ids[c.id] for c in data.customers])
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE customers")
        conn.execute("ANALYZE invoices")
        conn.autocommit = False
    finally:
        raw.close()


def _copy_invoices(cur: Any, tenant_id: int, data: BenchData, customer_pks: list[int]) -> None:
    pks = np.array(customer_pks)[data.cust].tolist()
    currency = [data.customers[i].currency for i in data.cust.tolist()]
    totals = np.char.mod("%.2f", data.total).tolist()
    paid = np.where(data.paid > 0, data.paid, data.issue)
    is_paid = (data.paid > 0).tolist()
    rows = zip(pks, currency, _iso(data.issue), _iso(data.due), totals, _iso(paid), is_paid,
               data.sent.tolist(), data.disputed.tolist(), strict=True)
    columns = ("tenant_id, remote_id, customer_id, number, currency, issue_date, due_date, total, amount_due, "
               "amount_paid, amount_credited, status, sent, fully_paid_on, disputed")
    with cur.copy(f"COPY invoices ({columns}) FROM STDIN") as copy:
        lines = []
        for n, (pk, cur_code, issued, due, total, paid_on, settled, sent, disputed) in enumerate(rows, start=1):
            due_amt, paid_amt, status, paid_col = ("0", total, "paid", paid_on) if settled else (
                total, "0", "open", "\\N")
            lines.append(f"{tenant_id}\tI{n:08d}\t{pk}\tINV-{n:08d}\t{cur_code}\t{issued}\t{due}\t{total}\t"
                         f"{due_amt}\t{paid_amt}\t0\t{status}\t{'t' if sent else 'f'}\t{paid_col}\t"
                         f"{'t' if disputed else 'f'}\n")
            if len(lines) == 50_000:
                copy.write("".join(lines))
                lines.clear()
        copy.write("".join(lines))


def training_sample(data: BenchData, invoices: int) -> list[HistoryInvoice]:
    """Every invoice of the first customers until about ``invoices`` records (the model's training set)."""
    counts = np.bincount(data.cust, minlength=len(data.customers))
    chosen = np.nonzero(np.cumsum(counts) - counts < invoices)[0]
    out = []
    for i in np.nonzero(np.isin(data.cust, chosen))[0].tolist():
        cust = data.customers[int(data.cust[i])]
        paid = date.fromordinal(int(data.paid[i])) if data.paid[i] else None
        out.append(HistoryInvoice(
            invoice_id=f"I{i + 1:08d}", customer_id=cust.id, issue_date=date.fromordinal(int(data.issue[i])),
            due_date=date.fromordinal(int(data.due[i])), amount=Decimal(f"{data.total[i]:.2f}"),
            currency=cust.currency, paid_date=paid, disputed=bool(data.disputed[i]), sent=bool(data.sent[i])))
    return out


# --- benchmark -----------------------------------------------------------------------------------


def main() -> None:
    args = _parse_args()
    admin = create_engine(args.database_url)
    _ensure_schema(admin, args.schema)
    engine = create_engine(args.database_url, connect_args={"options": f"-csearch_path={args.schema}"})
    try:
        tenant_id = _prepare(engine, args)
        for run in range(1, args.runs + 1):
            _timed_run(engine, tenant_id, args, run)
    finally:
        engine.dispose()
        if not args.keep:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE'))
            print(f"dropped schema {args.schema} (use --keep to reuse the data next time)")
        admin.dispose()


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--history", type=int, default=TARGET_HISTORY, help="settled invoices in the mirror")
    parser.add_argument("--open", type=int, default=TARGET_OPEN, help="open invoices to score")
    parser.add_argument("--customers", type=int, default=None,
                        help="customers (default: one per 200 invoices, at least 50)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--train-invoices", type=int, default=3000,
                        help="invoices (of the first customers) that train the model, outside the timed section")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--schema", default="cashline_bench")
    parser.add_argument("--keep", action="store_true", help="keep the schema (and reuse it when sizes match)")
    parser.add_argument("--runs", type=int, default=1,
                        help="timed runs; the first inserts every score, later ones update them (upsert)")
    args = parser.parse_args()
    if args.customers is None:
        args.customers = max(50, (args.history + args.open) // 200)
    return args


def _ensure_schema(admin: Engine, schema: str) -> None:
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))


def _params(args: argparse.Namespace) -> dict[str, int]:
    return {"history": args.history, "open": args.open, "customers": args.customers, "seed": args.seed,
            "train_invoices": args.train_invoices}


def _prepare(engine: Engine, args: argparse.Namespace) -> int:
    """Reuse kept data with the same parameters, else (re)generate it; make sure a usable model exists."""
    Base.metadata.create_all(engine)
    params = _params(args)
    with Session(engine) as session:
        tenant = session.scalar(select(Tenant).where(Tenant.platform == "fake", Tenant.remote_id == "bench-score"))
        if tenant is not None and tenant.settings.get("bench") == params and _has_model(session, tenant):
            print(f"reusing kept data in schema {args.schema} (tenant {tenant.id})")
            return tenant.id
    with engine.begin() as conn:  # different sizes or a half-built previous run: start clean
        Base.metadata.drop_all(conn)
        Base.metadata.create_all(conn)
    t0 = time.perf_counter()
    data = generate(args.history, args.open, args.customers, args.seed)
    t1 = time.perf_counter()
    with Session(engine) as session:
        tenant = Tenant(platform="fake", remote_id="bench-score", name="Benchmark tenant", base_currency="GBP",
                        settings={"bench": params})
        session.add(tenant)
        session.commit()
        tenant_id = tenant.id
    copy_into(engine, tenant_id, data)
    t2 = time.perf_counter()
    print(f"generated {len(data.issue):,} invoices for {len(data.customers):,} customers in {t1 - t0:.1f}s; "
          f"COPY + ANALYZE {t2 - t1:.1f}s")
    _train(engine, tenant_id, data, args.train_invoices)
    return tenant_id


def _has_model(session: Session, tenant: Tenant) -> bool:
    row = session.scalar(select(ModelVersion).where(ModelVersion.tenant_id == tenant.id, ModelVersion.active))
    if row is None:
        return False
    try:
        RiskModel.from_bytes(row.artifact)  # the model code may have moved on since the data was kept
    except ArtifactError:
        return False
    return True


def _train(engine: Engine, tenant_id: int, data: BenchData, invoices: int) -> None:
    t0 = time.perf_counter()
    sample = training_sample(data, invoices)
    model = train_model(sample, TODAY)
    with Session(engine) as session:
        session.add(ModelVersion(tenant_id=tenant_id, version=f"bench-{model.version}", kind="tenant",
                                 trained_from=min(i.issue_date for i in sample), trained_to=TODAY,
                                 metrics={"rows": model.metadata.get("rows")}, artifact=model.to_bytes(),
                                 active=True))
        session.commit()
    customers = len({i.customer_id for i in sample})
    print(f"trained the model once, outside the timed section, on {len(sample):,} invoices of "
          f"{customers} customers: {time.perf_counter() - t0:.1f}s")


class StageClock:
    """Seconds spent inside wrapped functions, per stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {"load": 0.0, "features": 0.0, "predict": 0.0, "persist": 0.0}

        self.detail: dict[str, float] = {}  # per wrapped function, to show what a stage is made of

    def wrap(self, stage: str, func: Callable[..., Any]) -> Callable[..., Any]:
        name = getattr(func, "__qualname__", str(func))

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                with self.measure(stage):
                    return func(*args, **kwargs)
            finally:
                self.detail[name] = self.detail.get(name, 0.0) + time.perf_counter() - start

        return timed

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start


def _instrumented(clock: StageClock) -> ExitStack:
    stack = ExitStack()
    for target, name, stage in ((scoring, "history_frame", "load"), (scoring, "ensure_model", "load"),
                                (HistoryFrame, "seen_at", "features"), (FeatureBuilder, "__init__", "features"),
                                (FeatureBuilder, "frame_snapshots", "features"),
                                (FeatureBuilder, "matrix", "features"), (scoring, "persist_scores", "persist")):
        stack.enter_context(mock.patch.object(target, name, clock.wrap(stage, getattr(target, name))))
    return stack


def _timed_run(engine: Engine, tenant_id: int, args: argparse.Namespace, run: int) -> None:
    with Session(engine) as session:
        if run == 1:
            session.execute(delete(RiskScore).where(RiskScore.tenant_id == tenant_id))
            session.commit()
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        clock = StageClock()
        load_avg = os.getloadavg()[0]
        cpu_start, start = time.process_time(), time.perf_counter()
        with _instrumented(clock):
            summary = scoring.score_tenant(session, tenant, today=TODAY)
            with clock.measure("persist"):
                session.commit()
        total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        stored = session.scalar(select(func.count()).select_from(RiskScore).where(RiskScore.tenant_id == tenant_id))
        floor = _raw_read_seconds(session, tenant_id)
    clock.seconds["predict"] = total - sum(v for k, v in clock.seconds.items() if k != "predict")
    _report(args, run, summary.scored, stored or 0, total, clock.seconds, floor)
    print("  of which " + ", ".join(f"{name} {secs:.2f}s" for name, secs in clock.detail.items()))
    # The machine is shared: CPU seconds and the load average say how much of the wall time was waiting.
    print(f"  cpu      {cpu:.1f}s of this process (all threads) in {total:.1f}s wall; "
          f"1-min load average at start {load_avg:.1f} on {os.cpu_count()} cores")


def _raw_read_seconds(session: Session, tenant_id: int) -> float:
    """The floor: the same invoice columns fetched with a bare SELECT (no records, no scoring)."""
    start = time.perf_counter()
    session.execute(select(*scoring_history._HISTORY_COLUMNS).outerjoin(Customer, Customer.id == Invoice.customer_id)
                    .where(Invoice.tenant_id == tenant_id)).all()
    return time.perf_counter() - start


def _report(args: argparse.Namespace, run: int, scored: int, stored: int, total: float,
            stages: dict[str, float], floor: float) -> None:
    path = "insert" if run == 1 else "update (ON CONFLICT)"
    print(f"\nrun {run} ({path}): scored {scored:,} open invoices against {args.history:,} historical "
          f"in {total:.2f}s = {scored / total:,.0f} rows/s; {stored:,} risk_scores rows stored")
    for name, secs in stages.items():
        print(f"  {name:<10}{secs:8.2f}s  {secs / total:6.1%}")
    # The target is for 100k open / 1M history; smaller runs compare against the pro-rata budget.
    budget = TARGET_SECONDS * max(args.open / TARGET_OPEN, (args.history + args.open) / (TARGET_HISTORY + TARGET_OPEN))
    verdict = "met" if total <= budget else "MISSED"
    print(f"  target   {budget:.1f}s for this size (20 s at 100k/1M): {verdict}; ratio {budget / total:.2f}x "
          f"(budget / time; time is {total / budget:.0%} of the budget)")
    print(f"  baseline bare SELECT of the same {args.history + args.open:,} invoices {floor:.2f}s; "
          f"end to end is {total / floor:.1f}x that")
    dominant = max(stages, key=lambda k: stages[k])
    print(f"  dominated by: {dominant}")


if __name__ == "__main__":
    main()
