"""`cashline bench ...` commands: benchmarks that print figures (never assert on speed)."""

from __future__ import annotations

import gc
import json
import multiprocessing
import time
from collections.abc import Sequence
from typing import Any

import click

from addon.domain.matching import MatchingIndex, MatchResult, match_line
from addon.domain.matching.baseline import match_exact_reference
from addon.domain.matching.metrics import score_run
from addon.domain.matching.synthetic import generate_case
from addon.domain.types import BankLine

FIGURES = ("auto_post_precision", "auto_match_rate", "identifiable_rate", "top1", "top3",
           "false_posts_on_ambiguous", "lines_per_s")

_WORKER_INDEX: MatchingIndex | None = None  # inherited by forked workers; never pickled


def _match_chunk(chunk: Sequence[BankLine]) -> list[MatchResult]:
    assert _WORKER_INDEX is not None
    return [match_line(line, _WORKER_INDEX) for line in chunk]


def _run_engine(index: MatchingIndex, lines: list[BankLine], workers: int) -> list[MatchResult]:
    global _WORKER_INDEX  # fork shares the built index with the workers for free
    if workers <= 1:
        return [match_line(line, index) for line in lines]
    _WORKER_INDEX = index
    gc.freeze()  # keep the index out of the children's GC passes, so fork's pages stay shared
    size = -(-len(lines) // (workers * 4))
    chunks = [lines[i:i + size] for i in range(0, len(lines), size)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_match_chunk, chunks)
    _WORKER_INDEX = None
    gc.unfreeze()
    return [r for part in parts for r in part]


def run_match_bench(seed: int, invoices: int, lines: int, workers: int = 1) -> dict[str, Any]:
    """Generate a ledger with known truth, run engine and naive baseline, return both scorecards."""
    case = generate_case(seed, invoices=invoices, lines=lines)
    started = time.perf_counter()
    index = MatchingIndex.build(case.invoices)
    build_s = time.perf_counter() - started
    ids, bank_lines = [i for i, _ in case.lines], [line for _, line in case.lines]

    started = time.perf_counter()
    engine = _run_engine(index, bank_lines, workers)
    engine_s = time.perf_counter() - started
    started = time.perf_counter()
    baseline = [match_exact_reference(line, index) for line in bank_lines]
    baseline_s = time.perf_counter() - started

    def card(results: list[MatchResult], seconds: float) -> dict[str, Any]:
        figures: dict[str, Any] = score_run(dict(zip(ids, results, strict=True)), case.truths).as_dict()
        figures["lines_per_s"] = round(len(results) / seconds, 1) if seconds > 0 else None
        return figures

    return {"seed": seed, "invoices": len(index.invoices), "lines": len(bank_lines), "workers": workers,
            "index_build_s": round(build_s, 3), "engine": card(engine, engine_s),
            "baseline_exact_reference": card(baseline, baseline_s)}


def format_report(report: dict[str, Any]) -> str:
    """Two-column text table: engine vs naive exact-reference baseline."""
    out = [f"seed={report['seed']} invoices={report['invoices']} lines={report['lines']} "
           f"workers={report['workers']} index_build_s={report['index_build_s']}",
           f"{'figure':<26}{'engine':>12}{'baseline':>12}"]
    for name in FIGURES:
        values = [report[k][name] for k in ("engine", "baseline_exact_reference")]
        out.append(f"{name:<26}" + "".join(f"{'-' if v is None else v:>12}" for v in values))
    return "\n".join(out)


@click.group(name="bench")
def group() -> None:
    """Benchmarks (print figures)."""


@group.command("match")
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--invoices", default=100_000, show_default=True, type=click.IntRange(min=10))
@click.option("--lines", default=10_000, show_default=True, type=click.IntRange(min=1))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Processes matching lines in parallel (the index is built once and shared by fork).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def bench_match(seed: int, invoices: int, lines: int, workers: int, as_json: bool) -> None:
    """Matching engine vs exact-reference baseline on a synthetic ledger with known truth."""
    try:
        report = run_match_bench(seed, invoices, lines, workers)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))


def register(cli: click.Group) -> None:
    cli.add_command(group)
