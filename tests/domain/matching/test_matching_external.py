"""`cashline match evaluate` and `cashline bench match`: exact interfaces, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from addon.cli import bench, match
from addon.domain.matching.external import ExternalDataError, read_invoices

INVOICES = """invoice_id, number, customer_id, customer_name, currency, amount_due, issue_date, due_date
I1, INV-000001, C1, Acme Trading Ltd, GBP, 1200.00, 2026-09-01, 2026-10-01
I2, INV-000002, C1, Acme Trading Ltd, GBP, 340.50, 2026-09-03, 2026-10-03
I3, INV-000003, C2, Globex GmbH, EUR, 980.00, 2026-09-05, 2026-10-05
I4, INV-000004, C2, Globex GmbH, EUR, 980.00, 2026-09-06, 2026-10-06
"""
LINES = """line_id,date,amount,currency,counterparty,counterparty_account,reference,text
L1,2026-11-02,1200.00,GBP,ACME TRADING LIMITED,,INV-000001,
L2,2026-11-02,980.00,EUR,Globex GmbH,,,PAYMENT
L3,2026-11-02,55.10,GBP,HMRC,,,VAT REFUND
L4,2026-11-02,335.50,GBP,Acme Trading,,,INV-000002 less bank charges
"""
KEYS = {"line_id", "decision", "allocations", "suggestions", "confidence", "explanation", "residual"}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    inv, lines = tmp_path / "INV.csv", tmp_path / "LINES.csv"
    inv.write_text(INVOICES)
    lines.write_text(LINES)
    return inv, lines


def test_evaluate_prints_one_json_object_per_line(files: tuple[Path, Path]) -> None:
    inv, lines = files
    result = CliRunner().invoke(match.group, ["evaluate", "--invoices", str(inv), "--lines", str(lines), "--json"])
    assert result.exit_code == 0, result.output
    out = {row["line_id"]: row for row in json.loads(result.output)}
    assert list(out) == ["L1", "L2", "L3", "L4"]
    assert all(set(row) >= KEYS for row in out.values())
    assert out["L1"]["decision"] == "auto"
    assert out["L1"]["allocations"] == [{"invoice_id": "I1", "amount": "1200.00"}]
    assert out["L2"]["decision"] == "suggest"  # two Globex invoices of 980.00: abstain
    assert out["L2"]["allocations"] == []
    assert sorted(s[0]["invoice_id"] for s in out["L2"]["suggestions"][:2]) == ["I3", "I4"]
    assert out["L3"]["decision"] == "none"
    assert out["L4"]["residual"] == "fee"  # 5.00 of bank charges: the invoice is settled in full
    assert out["L4"]["allocations"] == [{"invoice_id": "I2", "amount": "340.50"}]


def test_evaluate_table_output(files: tuple[Path, Path]) -> None:
    inv, lines = files
    result = CliRunner().invoke(match.group, ["evaluate", "--invoices", str(inv), "--lines", str(lines), "--table"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split()[:2] == ["L1", "auto"]


def test_evaluate_rejects_bad_rows_with_line_and_column(tmp_path: Path, files: tuple[Path, Path]) -> None:
    inv, lines = files
    lines.write_text(LINES.replace("55.10", "fifty"))
    result = CliRunner().invoke(match.group, ["evaluate", "--invoices", str(inv), "--lines", str(lines)])
    assert result.exit_code != 0
    assert "LINES.csv line 4 amount" in result.output


@pytest.mark.parametrize("amount", ['"1,5"', '"12,34"', "1e3", "NaN"])
def test_evaluate_rejects_amounts_that_are_not_plain_decimals(amount: str) -> None:
    # A decimal comma ("1,5") must not be read as 15 by dropping the comma as a thousands mark.
    with pytest.raises(ExternalDataError, match="invoices line 2 amount_due: not an amount"):
        read_invoices(INVOICES.replace("1200.00", amount, 1).splitlines(keepends=True))


def test_evaluate_accepts_thousands_commas() -> None:
    [first, *_] = read_invoices(INVOICES.replace("1200.00", '"1,200.00"', 1).splitlines(keepends=True))
    assert str(first.amount_due) == "1200.00"


def test_missing_column_is_reported() -> None:
    with pytest.raises(ExternalDataError, match="missing column"):
        read_invoices(["invoice_id,number\n", "I1,INV-1\n"])


def test_bench_match_prints_engine_and_baseline_figures() -> None:
    args = ["match", "--seed", "3", "--invoices", "3000", "--lines", "300", "--json"]
    result = CliRunner().invoke(bench.group, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for key in ("engine", "baseline_exact_reference"):
        assert set(bench.FIGURES) <= set(report[key])
    assert report["lines"] == 300
    assert report["engine"]["auto_match_rate"] > report["baseline_exact_reference"]["auto_match_rate"]


def test_bench_match_text_output() -> None:
    result = CliRunner().invoke(bench.group, ["match", "--invoices", "2000", "--lines", "100"])
    assert result.exit_code == 0, result.output
    names = [row.split()[0] for row in result.output.splitlines()[2:]]
    assert names == list(bench.FIGURES)
