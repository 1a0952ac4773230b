"""`cashline model ...` end to end on small generated histories, plus the beat-the-baseline check."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from addon.cli.model import group
from addon.domain.scoring.evaluate import evaluate
from addon.domain.scoring.history import read_history_csv
from addon.domain.scoring.metrics import METRIC_KEYS
from addon.services.scoring_prior import generated_history


@pytest.fixture(scope="module")
def history_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hist") / "history.csv"
    result = CliRunner().invoke(group, ["generate-history", "--seed", "4", "--mix", "distressed",
                                        "--customers", "15", "--invoices", "500", "--out", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_generate_history_is_reproducible(history_csv: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.csv"
    CliRunner().invoke(group, ["generate-history", "--seed", "4", "--mix", "distressed", "--customers", "15",
                               "--invoices", "500", "--out", str(again)])
    assert again.read_text() == history_csv.read_text()
    header = history_csv.read_text().splitlines()[0].split(",")
    assert header[:7] == ["invoice_id", "customer_id", "issue_date", "due_date", "amount", "currency",
                          "paid_date"]


def test_evaluate_json_and_predictions_can_be_recomputed(history_csv: Path, tmp_path: Path) -> None:
    preds = tmp_path / "preds.csv"
    result = CliRunner().invoke(group, ["evaluate", "--history", str(history_csv), "--json",
                                        "--test-fraction", "0.3", "--predictions-out", str(preds)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for method in ("model", "customer_history"):
        assert set(report[method]) == set(METRIC_KEYS)
    assert set(report["roc_auc_difference"]) == {"estimate", "ci95_low", "ci95_high"}
    # this tiny test set cannot resolve the targets, and the report says so
    assert report["sampling_noise"]["ece_if_perfectly_calibrated"] > 0.03
    assert report["sampling_noise"]["coverage_80_in_band_if_exact"] < 0.6
    with preds.open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["invoice_id", "p_late", "p10_days", "p50_days", "p90_days"]
    assert len(rows) == report["n_test"]
    # Recompute coverage and within_5d from the predictions file alone, as an outsider would.
    with history_csv.open() as fh:
        history = {i.invoice_id: i for i in read_history_csv(fh)}
    paid = [(r, history[r["invoice_id"]]) for r in rows if history[r["invoice_id"]].paid_date]
    actual = np.array([inv.delay_days() for _, inv in paid], dtype=float)
    lo, mid, hi = (np.array([float(r[k]) for r, _ in paid]) for k in ("p10_days", "p50_days", "p90_days"))
    assert report["model"]["coverage_80"] == pytest.approx(np.mean((lo <= actual) & (actual <= hi)), abs=1e-4)
    assert report["model"]["within_5d"] == pytest.approx(np.mean(np.abs(mid - actual) <= 5), abs=1e-4)
    assert np.all(mid == np.round(mid))  # a whole day, like the payment day it estimates


def test_evaluate_human_output(history_csv: Path) -> None:
    result = CliRunner().invoke(group, ["evaluate", "--history", str(history_csv)])
    assert result.exit_code == 0, result.output
    assert "roc_auc" in result.output
    assert "AUC difference" in result.output
    assert "sampling noise: a perfectly calibrated model would show ECE" in result.output
    assert "too small to judge the ECE and coverage targets" in result.output  # 500 invoices
    assert "re-scored  7 days past due:" in result.output


def test_evaluate_rejects_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("invoice_id,amount\nI1,3\n")
    result = CliRunner().invoke(group, ["evaluate", "--history", str(bad)])
    assert result.exit_code != 0
    assert "missing columns" in result.output


@pytest.mark.parametrize(("row", "message"), [
    # a due date the model's date arithmetic overflows on (was an OverflowError traceback)
    ("X1,C1,2025-01-01,9999-12-31,100,GBP,", "due_date 9999-12-31 is outside"),
    # an amount no float holds (was XGBoost's C++ backtrace)
    ("X1,C1,2025-01-01,2025-01-31,1e400,GBP,", "amount '1e400' is too large"),
    ("X1,C1,2025-01-01,2025-01-31,12 00,GBP,", "amount '12 00' is not a number"),
])
def test_evaluate_names_the_line_of_a_value_it_cannot_use(history_csv: Path, tmp_path: Path, row: str,
                                                          message: str) -> None:
    lines = history_csv.read_text().splitlines()
    bad = tmp_path / "bad.csv"
    width = lines[0].count(",") - REQUIRED_WIDTH
    bad.write_text("\n".join([*lines, row + "," * width]) + "\n")
    result = CliRunner().invoke(group, ["evaluate", "--history", str(bad)])
    assert result.exit_code == 1
    assert f"line {len(lines) + 1}: {message}" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


REQUIRED_WIDTH = 6  # commas in the required columns' header


def test_train_then_score(history_csv: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "models"
    out_dir.mkdir()
    result = CliRunner().invoke(group, ["train", "--history", str(history_csv), "--out", str(out_dir),
                                        "--no-evaluate", "--no-prior"])
    assert result.exit_code == 0, result.output
    (artifact,) = out_dir.glob("risk-model-*.zip")
    result = CliRunner().invoke(group, ["score", "--history", str(history_csv), "--model", str(artifact),
                                        "--json", "--as-of", "2026-10-01"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert scores
    assert {"invoice_id", "p_late", "expected_pay_date", "p10_days", "p50_days", "p90_days", "band",
            "reasons"} <= set(scores[0])
    assert all(s["reasons"] for s in scores)


def test_model_beats_the_baseline_on_moderate_generated_data() -> None:
    history = generated_history(seed=1, mix="mostly_reliable", customers=60, invoices=2500)
    report = evaluate(history, bootstrap_rounds=300).report
    assert report["roc_auc_difference"]["ci95_low"] > 0
    assert report["model"]["brier"] < report["customer_history"]["brier"]
    assert report["model"]["mae_days"] < report["customer_history"]["mae_days"]
    assert date.fromisoformat(report["cutoff"]) < date.fromisoformat(report["evaluated_as_of"])
    # Re-scoring still-unpaid invoices past due: fewer are left the later it is, each with its figures.
    rescored = report["rescoring"]
    assert list(rescored) == ["7", "14", "30"]
    assert rescored["7"]["n"] > rescored["14"]["n"] > rescored["30"]["n"] > 0
    for figures in rescored.values():
        assert 0 < figures["n_paid"] <= figures["n"]
        assert 0.5 < figures["coverage_80"] <= 1
        assert 0 <= figures["within_5d"] <= 1


def test_evaluate_report_warns_only_when_the_test_set_is_too_small(capsys: pytest.CaptureFixture[str]) -> None:
    from addon.cli.model import _print_report
    metrics = dict.fromkeys(METRIC_KEYS, 0.5)
    report = {"cutoff": "2026-04-01", "n_train": 1, "n_test": 5000, "n_test_labelled": 5000, "n_test_paid": 4500,
              "model": metrics, "customer_history": metrics,
              "roc_auc_difference": {"estimate": 0.0, "ci95_low": 0.0, "ci95_high": 0.0}, "targets_met": {},
              "sampling_noise": {"ece_if_perfectly_calibrated": 0.012, "coverage_80_in_band_if_exact": 1.0}}
    _print_report(report)
    assert "too small" not in capsys.readouterr().out
    report["sampling_noise"] = {"ece_if_perfectly_calibrated": 0.012, "coverage_80_in_band_if_exact": 0.78}
    _print_report(report)
    assert "too small to judge" in capsys.readouterr().out


def test_evaluate_reads_a_spreadsheet_export_with_a_byte_order_mark(history_csv: Path, tmp_path: Path) -> None:
    exported = tmp_path / "excel.csv"
    exported.write_bytes(b"\xef\xbb\xbf" + history_csv.read_bytes())
    result = CliRunner().invoke(group, ["evaluate", "--history", str(exported), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["n_test"] > 0


def test_evaluate_explains_files_it_cannot_use(history_csv: Path, tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes(history_csv.read_bytes().replace(b"GBP", b"\xa3GB", 1))
    result = CliRunner().invoke(group, ["evaluate", "--history", str(latin)])
    assert result.exit_code == 1
    assert "not UTF-8 text" in result.output
    # Three months of invoices: none was due 90 days before the cut-off, so no payment days can be learnt.
    short = tmp_path / "short.csv"
    lines = history_csv.read_text().splitlines()
    header, rows = lines[0], sorted(lines[1:], key=lambda r: r.split(",")[2])
    first = date.fromisoformat(rows[0].split(",")[2])
    recent = [r for r in rows if (date.fromisoformat(r.split(",")[2]) - first).days < 90]
    short.write_text("\n".join([header, *recent]) + "\n")
    result = CliRunner().invoke(group, ["evaluate", "--history", str(short)])
    assert result.exit_code == 1
    assert "to learn payment days" in result.output
    assert "Traceback" not in result.output


def test_train_leans_on_the_prior_when_the_history_is_busy_but_short(tmp_path: Path) -> None:
    from addon.domain.scoring.history import HistoryInvoice, write_history_csv
    from addon.domain.scoring.model import RiskModel
    from connectors.sandbox.generator import generate_company

    # Ten weeks of a busy book: hundreds of settled invoices, none due 90 days before the end.
    company = generate_company(11, customers=20, invoices=700, months=2, today=date(2026, 11, 1))
    history = [HistoryInvoice(i.id, i.customer_id, i.issue_date, i.due_date, i.total, i.currency, i.paid_date)
               for i in company.invoices if not i.voided]
    path = tmp_path / "short.csv"
    with path.open("w", newline="") as fh:
        write_history_csv(history, fh)
    out = tmp_path / "m.zip"
    refused = CliRunner().invoke(group, ["train", "--history", str(path), "--out", str(out), "--no-prior"])
    assert refused.exit_code == 1
    assert "to learn payment days" in refused.output
    result = CliRunner().invoke(group, ["train", "--history", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "prior=yes" in result.output
    assert "not evaluated" in result.output
    model = RiskModel.from_bytes(out.read_bytes())
    assert "to learn payment days" in model.metadata["metrics"]["not_evaluated"]
