"""Format detection, fingerprints/dedupe keys, robustness and the `statement parse` command."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addon.cli.statement import group
from addon.domain.statements import (
    StatementError,
    content_fingerprint,
    dedupe_keys,
    detect_format,
    line_dedupe_key,
    parse_statement,
    statement_fingerprint,
)
from tests.paths import STATEMENTS

SAMPLES = STATEMENTS
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared statement samples not present")

MT940 = b":20:R\n:25:NL91ABNA0417164300\n:28C:1\n:60F:C240101EUR0,00\n" \
        b":61:240102C5,00NTRFNONREF\n:86:fee\n:61:240102C5,00NTRFNONREF\n:86:fee\n:62F:C240102EUR10,00\n-\n"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">', "camt"),
        (b"\xef\xbb\xbf<Document><BkToCstmrStmt>", "camt"),
        (b"OFXHEADER:100\nDATA:OFXSGML\n", "ofx"),
        (b'<?xml version="1.0"?>\n<?OFX OFXHEADER="200"?><OFX>', "ofx"),
        (b"01,122099999,123456789,240102,0800,1,,,2/\n02,", "bai2"),
        (b"\x01\n:20:X\n:25:Y\n:28C:1\n", "mt940"),
        (b"Date,Amount\n2024-01-01,1.00\n", "csv"),
        (b"01,2024-01-01,1.00\n02,2024-01-02,2.00\n", "csv"),  # looks like BAI2 records, is not
    ],
)
def test_detect_format(head: bytes, expected: str) -> None:
    assert detect_format(head) == expected


def test_detect_rejects_unknown_and_empty() -> None:
    with pytest.raises(StatementError, match="unrecognised"):
        detect_format(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(StatementError, match="empty"):
        detect_format(b"  \n")
    with pytest.raises(StatementError, match="neither camt"):
        detect_format(b"<?xml version='1.0'?><html/>")
    with pytest.raises(StatementError, match="unknown format"):
        parse_statement(MT940, format="qif")


def test_dedupe_keys_tell_identical_lines_apart_and_are_stable() -> None:
    statement = parse_statement(MT940)
    assert statement.lines[0] == statement.lines[1]
    keys = dedupe_keys(statement)
    assert len(set(keys)) == 2
    assert dedupe_keys(parse_statement(MT940)) == keys  # re-import yields the same keys
    assert keys[0] == line_dedupe_key(statement.lines[0], account=statement.account)
    # only the first of the two lines again (a shorter overlapping statement) maps onto keys[0]
    shorter = replace(statement, lines=statement.lines[:1])
    assert dedupe_keys(shorter) == keys[:1]
    changed = replace(statement.lines[0], amount=Decimal("5.01"))
    assert line_dedupe_key(changed, account=statement.account) != keys[0]


def test_statement_fingerprint_ignores_formatting_but_not_content() -> None:
    base = parse_statement(MT940)
    reformatted = parse_statement(MT940.replace(b"C5,00N", b"C5,N").replace(b"\n", b"\r\n"))
    assert content_fingerprint(MT940) != content_fingerprint(MT940.replace(b"\n", b"\r\n"))
    assert statement_fingerprint(base) == statement_fingerprint(reformatted)
    other = parse_statement(MT940.replace(b":86:fee\n:62F", b":86:fees\n:62F"))
    assert statement_fingerprint(other) != statement_fingerprint(base)


@needs_samples
def test_nothing_partial_from_a_file_with_one_bad_line() -> None:
    data = (SAMPLES / "mt940_sepa_de_betterplace.sta").read_bytes()
    broken = data.replace(b":61:0709040904CR335,33", b":61:0709040904CR335,3X", 1)
    with pytest.raises(StatementError) as info:
        parse_statement(broken)
    assert info.value.location.startswith("line ")


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.sampled_from([None, "auto", "camt", "mt940", "bai2", "ofx", "csv"]))
def test_random_bytes_only_ever_raise_statement_error(data: bytes, fmt: str | None) -> None:
    with contextlib.suppress(StatementError):
        parse_statement(data, format=fmt)


FRAGMENTS = [
    b":20:", b":25:", b":60F:C240101EUR1,00", b":61:", b"240102C5,00NTRF", b":86:", b"?20", b"/EREF/",
    b"01,", b"02,", b"03,", b"16,", b"88,", b"/", b",", b"\n", b"<OFX>", b"<STMTRS>", b"<STMTTRN>",
    b"<TRNAMT>", b"<DTPOSTED>", b"<CURDEF>EUR", b"<Document>", b"<BkToCstmrStmt>", b"<Stmt>", b"<Ntry>",
    b"<Amt Ccy=\"EUR\">", b"</Amt>", b"<CdtDbtInd>CRDT</CdtDbtInd>", b"1.00", b"2024-01-01", b"240101",
]


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40))
def test_structured_garbage_only_ever_raises_statement_error(parts: list[bytes]) -> None:
    try:
        statement = parse_statement(b"".join(parts))
    except StatementError:
        return
    assert all(isinstance(line.amount, Decimal) for line in statement.lines)


def test_cli_parse_json(tmp_path: Path) -> None:
    path = tmp_path / "stmt.sta"
    path.write_bytes(MT940)
    result = CliRunner().invoke(group, ["parse", str(path), "--json"])
    assert result.exit_code == 0, result.output
    lines = json.loads(result.output)
    assert [line["amount"] for line in lines] == ["5.00", "5.00"]
    assert lines[0]["booking_date"] == "2024-01-02"
    assert lines[0]["extra"]["account"] == "NL91ABNA0417164300"


def test_cli_parse_csv_with_mapping_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "bank.csv"
    path.write_bytes(b"d;a\n2024-01-01;-1,5\n")
    mapping = '{"date": "d", "amount": "a", "decimal_separator": ",", "default_currency": "EUR"}'
    runner = CliRunner()
    ok = runner.invoke(group, ["parse", str(path), "--format", "csv", "--mapping", mapping, "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)[0]["amount"] == "-1.50"
    saved = tmp_path / "mapping.json"
    saved.write_text(mapping)
    from_file = runner.invoke(group, ["parse", str(path), "--mapping", str(saved), "--json"])
    assert json.loads(from_file.output)[0]["currency"] == "EUR"
    unmapped = runner.invoke(group, ["parse", str(path), "--json"])
    assert unmapped.exit_code == 1
    assert "csv statement rejected at line 1" in unmapped.output
    bad = runner.invoke(group, ["parse", str(path), "--mapping", "nosuchbank"])
    assert bad.exit_code == 2
    assert "built-in mappings" in bad.output


@needs_samples
def test_cli_human_output() -> None:
    result = CliRunner().invoke(group, ["parse", str(SAMPLES / "camt053_oca_sftp.xml")])
    assert result.exit_code == 0
    assert "camt statement, account NL12ABCD3456789012, 1 lines" in result.output
    assert "-1200.00 EUR" in result.output


SAMPLE_NAMES = sorted(p.name for p in SAMPLES.glob("*") if p.name != "MANIFEST.md") if SAMPLES.is_dir() else []


@needs_samples
@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SAMPLE_NAMES or ["none"]),
    st.floats(min_value=0, max_value=1),
    st.integers(min_value=0, max_value=60),
    st.binary(max_size=8),
)
def test_mutated_samples_only_ever_raise_statement_error(
    name: str, where: float, cut: int, insert: bytes
) -> None:
    data = (SAMPLES / name).read_bytes()
    at = int(where * len(data))
    with contextlib.suppress(StatementError):
        parse_statement(data[:at] + insert + data[at + cut:], filename=name)
