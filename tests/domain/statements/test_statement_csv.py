"""CSV parsing through saved column mappings."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from addon.domain.statements import (
    BUILTIN_MAPPINGS,
    CsvMapping,
    StatementError,
    load_mapping,
    parse_statement,
)

BANK_CSV = """Export for account NL91ABNA0417164300
Booked;Valued;Debit;Credit;Payer;IBAN;Ref;Details
03.01.2024;04.01.2024;;1.234,50;Acme B.V.;NL02RABO0123456789;RF18 5390 0754 7034;INV 1001
03.01.2024;;12,00;;Bank;;;fees
"""
MAPPING = CsvMapping(
    name="mybank", date="Booked", value_date="Valued", date_format="%d.%m.%Y", debit="Debit",
    credit="Credit", default_currency="EUR", counterparty="Payer", counterparty_account="IBAN",
    reference="Ref", text=("Details",), decimal_separator=",", skip_rows=1,
)


def test_custom_mapping_with_debit_credit_columns() -> None:
    statement = parse_statement(BANK_CSV.encode("cp1252"), format="csv", csv_mapping=MAPPING)
    first, second = statement.lines
    assert (first.amount, first.currency) == (Decimal("1234.50"), "EUR")
    assert first.value_date is not None
    assert first.value_date.isoformat() == "2024-01-04"
    assert (first.counterparty_name, first.counterparty_account) == ("Acme B.V.", "NL02RABO0123456789")
    assert (first.structured_reference, first.remittance_text) == ("RF18 5390 0754 7034", "INV 1001")
    assert (second.amount, second.value_date) == (Decimal("-12.00"), None)


def test_mapping_json_round_trip_and_validation() -> None:
    for mapping in [MAPPING, *BUILTIN_MAPPINGS.values()]:
        assert CsvMapping.from_json(mapping.to_json()) == mapping
    saved = json.loads(MAPPING.to_json())
    saved["colour"] = "red"
    with pytest.raises(ValueError, match="unknown mapping keys: colour"):
        CsvMapping.from_dict(saved)
    with pytest.raises(ValueError, match="amount column"):
        CsvMapping.from_json('{"date": "Datum"}')
    with pytest.raises(ValueError, match="skip_rows must be int"):
        CsvMapping.from_json('{"amount": 1, "skip_rows": "2"}')
    with pytest.raises(ValueError, match="by index"):
        CsvMapping(amount="Amount", has_header=False)


def test_load_mapping_by_name_or_json() -> None:
    assert load_mapping("knab_nl") is BUILTIN_MAPPINGS["knab_nl"]
    assert load_mapping(MAPPING.to_json()) == MAPPING
    with pytest.raises(ValueError, match="built-in mappings"):
        load_mapping("nosuchbank")


def test_bad_amount_names_the_line() -> None:
    data = BANK_CSV.replace("12,00", "12,0x").encode()
    with pytest.raises(StatementError) as info:
        parse_statement(data, format="csv", csv_mapping=MAPPING)
    assert (info.value.format, info.value.location) == ("csv", "line 4")
    assert "bad amount" in info.value.reason


def test_bad_date_and_missing_header_column() -> None:
    with pytest.raises(StatementError, match="bad date"):
        parse_statement(BANK_CSV.replace("03.01.2024;;", "2024-01-03;;").encode(), csv_mapping=MAPPING,
                        format="csv")
    with pytest.raises(StatementError, match="no column 'Payer'"):
        parse_statement(BANK_CSV.replace("Payer", "Name").encode(), format="csv", csv_mapping=MAPPING)


def test_unknown_layout_without_mapping_is_rejected() -> None:
    with pytest.raises(StatementError, match="no built-in mapping fits"):
        parse_statement(BANK_CSV.encode(), format="csv")


def test_direction_column_signs_the_amount() -> None:
    mapping = CsvMapping(date="d", amount="a", direction="dc", default_currency="GBP", date_format="%Y-%m-%d")
    data = b"d,a,dc\n2024-01-01,10.00,C\n2024-01-02,3.50,D\n"
    assert [line.amount for line in parse_statement(data, csv_mapping=mapping).lines] == [
        Decimal("10.00"), Decimal("-3.50"),
    ]


def test_excel_sep_line_and_currency_symbols() -> None:
    mapping = CsvMapping(date="d", amount="a", default_currency="EUR", decimal_separator=",")
    data = "sep=;\nd;a\n2024-01-01;€ 1.234,50\n2024-01-02;-7,5x\n".encode("cp1252")
    with pytest.raises(StatementError) as info:
        parse_statement(data, format="csv", csv_mapping=mapping)
    assert info.value.location == "line 4"  # counted in the file as written, sep= line included
    (line,) = parse_statement(data.rsplit(b"\n", 2)[0] + b"\n", format="csv", csv_mapping=mapping).lines
    assert line.amount == Decimal("1234.50")


@pytest.mark.parametrize(
    ("raw", "separator"),
    [
        ("1,25", "."),  # a decimal comma read with a "." mapping must not become 125.00
        ("1.234,56", "."),  # European amount under a "." mapping must not become 1.23456
        ("1.25", ","),
        ("1,234.56", ","),
        ("12,34", "."),
    ],
)
def test_amount_in_the_other_decimal_convention_is_rejected_not_rescaled(raw: str, separator: str) -> None:
    mapping = CsvMapping(date="d", amount="a", default_currency="EUR", decimal_separator=separator,
                         delimiter=";")
    with pytest.raises(StatementError) as info:
        parse_statement(f"d;a\n2024-01-01;{raw}\n".encode(), format="csv", csv_mapping=mapping)
    assert (info.value.location, info.value.reason) == ("line 2", f"bad amount {raw!r}")


@pytest.mark.parametrize(
    ("raw", "separator", "expected"),
    [
        ("1,234.56", ".", "1234.56"),
        ("1,234,567", ".", "1234567"),
        ("(1,234.50)", ".", "-1234.50"),
        ("1.234.567,8", ",", "1234567.8"),
        ("1.234", ",", "1234"),
        ("1,23,456.00", ".", "123456.00"),  # Indian lakh grouping
        ("-0,5", ",", "-0.5"),
    ],
)
def test_thousands_separators_in_groups_of_digits(raw: str, separator: str, expected: str) -> None:
    mapping = CsvMapping(date="d", amount="a", default_currency="EUR", decimal_separator=separator,
                         delimiter=";")
    (line,) = parse_statement(f"d;a\n2024-01-01;{raw}\n".encode(), format="csv", csv_mapping=mapping).lines
    assert line.amount == Decimal(expected)
