"""`cashline model ...`: evaluate, train and score the late-payment risk model on a history CSV.

The CSV format is described in ``addon/domain/scoring/history/csv_format.py`` and docs/risk-model.md;
``generate-history`` writes it from the seeded sandbox generator so anyone can reproduce the targets.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from addon.domain.scoring.evaluate import ECE_MAX, evaluate
from addon.domain.scoring.features import open_at
from addon.domain.scoring.history import HistoryFormatError, HistoryInvoice, read_history_csv, write_history_csv
from addon.domain.scoring.metrics import METRIC_KEYS
from addon.domain.scoring.model import RiskModel
from addon.domain.scoring.train import TrainConfig, train_model
from addon.services.scoring_prior import after_last_date, generated_history, prior_histories


@click.group(name="model")
def group() -> None:
    """Late-payment risk model: evaluate, train, score, generate history."""


def _load(path: str) -> list[HistoryInvoice]:
    try:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark, which is not part of the header.
        with open(path, newline="", encoding="utf-8-sig") as fh:
            history = read_history_csv(fh)
    except HistoryFormatError as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path}: not UTF-8 text; save the CSV as UTF-8") from exc
    if not history:
        raise click.ClickException(f"{path}: no invoices")
    return history


def _clean(value: Any) -> Any:
    # JSON has no NaN; an undefined metric (e.g. AUC with one class) becomes null.
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


@group.command("evaluate")
@click.option("--history", "history_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--test-fraction", default=0.25, show_default=True, type=click.FloatRange(0.01, 0.99))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--predictions-out", type=click.Path(dir_okay=False, writable=True),
              help="Write invoice_id, p_late, p10_days, p50_days, p90_days per test invoice.")
@click.option("--seed", default=0, show_default=True, help="Training and bootstrap seed.")
def evaluate_command(history_path: str, test_fraction: float, as_json: bool, predictions_out: str | None,
                     seed: int) -> None:
    """Time-split evaluation of the model against the customer_history baseline."""
    history = _load(history_path)
    try:
        result = evaluate(history, test_fraction, TrainConfig(seed=seed))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if predictions_out:
        with open(predictions_out, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(("invoice_id", "p_late", "p10_days", "p50_days", "p90_days"))
            writer.writerows((r.invoice_id, r.p_late, r.p10_days, r.p50_days, r.p90_days)
                             for r in result.predictions)
    report = _clean(result.report)
    if as_json:
        click.echo(json.dumps(report))
        return
    _print_report(report)


def _print_report(report: dict[str, Any]) -> None:
    click.echo(f"cut-off {report['cutoff']}  train {report['n_train']}  test {report['n_test']} "
               f"(labelled {report['n_test_labelled']}, paid {report['n_test_paid']})")
    click.echo(f"{'metric':<12}{'model':>10}{'baseline':>10}")
    for key in METRIC_KEYS:
        m, b = report["model"][key], report["customer_history"][key]
        click.echo(f"{key:<12}{_fmt(m):>10}{_fmt(b):>10}")
    d = report["roc_auc_difference"]
    click.echo(f"AUC difference {_fmt(d['estimate'])} (95% CI {_fmt(d['ci95_low'])} .. {_fmt(d['ci95_high'])})")
    click.echo("targets: " + ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in report["targets_met"].items()))
    for days, r in report.get("rescoring", {}).items():
        if r["n"]:
            click.echo(f"re-scored {days:>2} days past due: {r['n']} invoices still unpaid then, coverage_80 "
                       f"{_fmt(r['coverage_80'])}; of the {r['n_paid']} paid since: within_5d {_fmt(r['within_5d'])}, "
                       f"mae_days {_fmt(r['mae_days'])}")
    noise = report["sampling_noise"]
    ece_floor, in_band = noise["ece_if_perfectly_calibrated"], noise["coverage_80_in_band_if_exact"]
    click.echo(f"sampling noise: a perfectly calibrated model would show ECE {_fmt(ece_floor)} on this test set; "
               f"an exact 80% interval lands within 78-82% with probability {_fmt(in_band)}")
    if (ece_floor is not None and ece_floor > ECE_MAX / 2) or (in_band is not None and in_band < 0.9):
        click.echo("note: this test set is too small to judge the ECE and coverage targets on their own; "
                   "evaluate on more history (cashline model generate-history defaults to 24,000 invoices)")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


@group.command("train")
@click.option("--history", "history_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_path", required=True, type=click.Path(),
              help="Artifact file, or a directory to write risk-model-<version>.zip into.")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Train on what was known at this date (default: the day after the last date in the file).")
@click.option("--with-prior/--no-prior", default=None,
              help="Pool generated histories as a prior (default: only when the history is small).")
@click.option("--evaluate/--no-evaluate", "run_evaluation", default=True, show_default=True,
              help="Store a time-split evaluation of this history in the artifact's metrics.")
def train_command(history_path: str, out_path: str, as_of: Any, with_prior: bool | None,
                  run_evaluation: bool) -> None:
    """Train a model on a history CSV and write a versioned artifact."""
    from addon.domain.scoring.train import train_leaning_on_prior

    history = _load(history_path)
    day = as_of.date() if as_of else after_last_date(history)
    try:
        model, use_prior = train_leaning_on_prior(history, day, None, lambda: list(prior_histories()), with_prior)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if run_evaluation:
        try:
            model.metadata["metrics"] = _clean(evaluate(history).report)
        except ValueError as exc:  # the model is still usable; say why it carries no evaluation
            model.metadata["metrics"] = {"not_evaluated": str(exc)}
            click.echo(f"warning: not evaluated: {exc}", err=True)
    target = Path(out_path)
    if target.is_dir() or out_path.endswith(("/", "\\")):
        target.mkdir(parents=True, exist_ok=True)
        target = target / f"risk-model-{model.version}.zip"
    target.write_bytes(model.to_bytes())
    click.echo(f"wrote {target} (version {model.version}, prior={'yes' if use_prior else 'no'})")


@group.command("train-prior")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False))
@click.option("--invoices", default=2000, show_default=True, help="Invoices per generated history.")
def train_prior_command(out_path: str, invoices: int) -> None:
    """Train the pooled cold-start model on generated histories of every behaviour mix."""
    histories = list(prior_histories(invoices=invoices))
    first, day = histories[0]
    model = train_model(first, day, prior=histories[1:], config=TrainConfig(prior_weight=1.0))
    model.metadata["pooled_prior"] = True
    Path(out_path).write_bytes(model.to_bytes())
    click.echo(f"wrote {out_path} (version {model.version}, {len(histories)} generated histories)")


@group.command("score")
@click.option("--history", "history_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--model", "model_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Scoring date (default: the day after the last date in the file).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of scores.")
def score_command(history_path: str, model_path: str, as_of: Any, as_json: bool) -> None:
    """Score every invoice still open at the scoring date, with reasons."""
    history = _load(history_path)
    day = as_of.date() if as_of else after_last_date(history)
    model = RiskModel.from_bytes(Path(model_path).read_bytes())
    scores = model.predict(open_at(history, day), history, day)
    if as_json:
        click.echo(json.dumps([_clean(asdict(s)) for s in scores], default=str))
        return
    for s in scores:
        click.echo(f"{s.invoice_id:<12} {s.band:<7} p_late={s.p_late:.2f} pay~{s.expected_pay_date} "
                   f"[{s.p10_days:+.0f}..{s.p90_days:+.0f}d]  " + "; ".join(s.reasons))


@group.command("generate-history")
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--mix", default="balanced", show_default=True,
              type=click.Choice(["balanced", "mostly_reliable", "distressed"]))
@click.option("--customers", default=480, show_default=True, type=click.IntRange(1))
@click.option("--invoices", default=24000, show_default=True, type=click.IntRange(1))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False))
def generate_history_command(seed: int, mix: str, customers: int, invoices: int, out_path: str) -> None:
    """Write a history CSV from the seeded sandbox generator.

    The default size leaves about 5,000 labelled test invoices to `evaluate`, enough for sampling noise to
    sit well inside the targets (a perfectly calibrated model shows ECE of about 0.012 there). At 3,000
    invoices the same perfect model would meet ECE <= 0.03 only about half the time.
    """
    history = generated_history(seed, mix, customers, invoices)
    with open(out_path, "w", newline="", encoding="utf-8") as fh:
        write_history_csv(history, fh)
    click.echo(f"wrote {len(history)} invoices to {out_path}")


def register(cli: click.Group) -> None:
    cli.add_command(group)
