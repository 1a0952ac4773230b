"""Every sample in ../shared/statements parses, with counts and totals checked independently.

Expected totals were summed by hand/with a separate regex script from the raw files (signed by
CdtDbtInd, :61: marks, BAI2 type codes, TRNAMT, CSV sign columns) - not taken from this parser.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from addon.domain.statements import dedupe_keys, parse_statement
from tests.paths import STATEMENTS

SAMPLES = STATEMENTS  # read in place from ../shared/statements, never copied

# file: (format, lines, total, currency, account)
EXPECTED: dict[str, tuple[str, int, str, str | None, str | None]] = {
    "bai2_moj_natwest.bai2": ("bai2", 5, "-26.76", "GBP", "88888888 600004"),
    "bai2_moj_svb.bai2": ("bai2", 2, "13959.96", "USD", "1234567890"),
    "bai2_moov_sample3.txt": ("bai2", 26, "-197.05", "USD", None),  # two accounts
    "camt053_davider80_kedder.xml": ("camt", 16, "-3679.85", "CHF", "CHxxxxxxxxxxxxxxxxxxx"),
    "camt053_oca_abnamro_nl.xml": ("camt", 4, "-12.99", "EUR", "NL77ABNA0574908765"),
    "camt053_oca_sftp.xml": ("camt", 1, "-1200.00", "EUR", "NL12ABCD3456789012"),
    "camt053_v2_partyids_genkgo.xml": ("camt", 1, "8.85", "EUR", "NL26VAYB8060476890"),
    "camt053_v4_genkgo.xml": ("camt", 1, "8.85", "EUR", "NL26VAYB8060476890"),
    "camt054_oca.xml": ("camt", 1, "5.00", "EUR", "NL77ABNA0574908765"),
    "camt054_v4_genkgo.xml": ("camt", 1, "-200000", "SEK", "CH2801234000123456789"),
    "csv_adyen_settlement_fees_oca.csv": ("csv", 3, "0.00", "USD", None),
    "csv_asn_nl_ofxstatement.csv": ("csv", 11, "-46.20", "EUR", "NL00ASNB9999999999"),
    "csv_generic_oca_sheet.csv": ("csv", 2, "1491.50", "USD", None),
    "csv_ing_nl_ofxstatement.csv": ("csv", 6, "19.38", "EUR", "NL99INGB9999999999"),
    "csv_knab_nl_ofxstatement.csv": ("csv", 28, "7.01", "EUR", "NL99KNAB9999999999"),
    "mt940_abnamro_jejik.sta": ("mt940", 10, "-345.93", "EUR", "517852257"),
    "mt940_mbank_pl.sta": ("mt940", 3, "0.03", "PLN", "PL29114010810000267002001002"),
    "mt940_rabobank_iban_jejik.sta": ("mt940", 4, "-70.00", "EUR", "NL71RABO0123456789"),
    "mt940_sepa_de_betterplace.sta": ("mt940", 97, "-9269135.90", "EUR", None),  # 26 accounts
    "mt940_triodos_jejik.sta": ("mt940", 2, "-715.70", "EUR", "TRIODOSBANK/0390123456"),
    "ofx_bank_medium_ofxparse.ofx": ("ofx", 3, "-345.27", "CAD", "12300 000012345678"),
    "ofx_checking_ofxparse.ofx": ("ofx", 3, "-59.50", "USD", "1452687~7"),
}


def _parse(name: str):  # type: ignore[no-untyped-def]
    return parse_statement((SAMPLES / name).read_bytes(), filename=name)


def test_every_sample_file_is_covered() -> None:
    on_disk = {p.name for p in SAMPLES.iterdir() if p.name != "MANIFEST.md"}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize(("name", "expected"), sorted(EXPECTED.items()))
def test_sample_counts_and_totals(name: str, expected: tuple[str, int, str, str | None, str | None]) -> None:
    fmt, count, total, currency, account = expected
    statement = _parse(name)
    assert statement.format == fmt
    assert len(statement.lines) == count
    assert sum((line.amount for line in statement.lines), Decimal(0)) == Decimal(total)
    assert statement.currency == currency
    assert statement.account == account
    assert all(isinstance(line.amount, Decimal) for line in statement.lines)
    # every line is distinguishable for dedupe, even identical bookings
    assert len(set(dedupe_keys(statement))) == count


@pytest.mark.parametrize(
    ("name", "opening", "closing"),
    [
        ("camt053_davider80_kedder.xml", "9433.31", "5753.46"),
        ("bai2_moj_natwest.bai2", "365.21", "338.45"),
        ("bai2_moj_svb.bai2", "347269.79", "361229.75"),
        ("mt940_mbank_pl.sta", "0.40", "0.43"),
    ],
)
def test_balances_reconcile_with_lines(name: str, opening: str, closing: str) -> None:
    statement = _parse(name)
    assert statement.opening_balance == Decimal(opening)
    assert statement.closing_balance == Decimal(closing)
    assert Decimal(opening) + sum(line.amount for line in statement.lines) == Decimal(closing)


def test_bai2_every_account_section_reconciles() -> None:
    statement = _parse("bai2_moov_sample3.txt")
    assert len(statement.sections) == 15
    start = 0
    for section in statement.sections:
        lines = statement.lines[start:start + section.line_count]
        start += section.line_count
        assert section.opening_balance is not None
        assert section.closing_balance is not None
        assert section.opening_balance + sum(line.amount for line in lines) == section.closing_balance
    assert {line.extra["account"] for line in statement.lines} == {"1111111", "11111111"}


def test_camt_batch_entry_is_split_into_transactions_with_reversal() -> None:
    lines = _parse("camt053_oca_abnamro_nl.xml").lines
    assert [line.amount for line in lines] == [
        Decimal("-754.25"), Decimal("-564.05"), Decimal("-100.00"), Decimal("1405.31"),
    ]
    assert [line.reversal for line in lines] == [False, True, True, False]
    assert lines[1].end_to_end_id == "TESTBANK/NL/20141229/01206408"
    assert lines[1].extra["mandate_id"] == "NL22ZZZ524885430000-C0125.1"
    assert lines[1].extra["return_reason"] == "AC06"
    incoming = lines[3]
    assert incoming.counterparty_name == "3rd party Media"
    assert incoming.counterparty_account == "NL69ABNA0522123643"
    assert incoming.end_to_end_id == "115"
    # Ustrd and AddtlTxInf disagree on the policy number: keep Ustrd, still expose the other
    assert lines[0].remittance_text == "Insurance policy 857239PERIOD 01.01.2014 - 31.12.2014"
    assert "859239" in lines[0].extra["additional_info"]


def test_camt_structured_references_and_party() -> None:
    line = _parse("camt053_v4_genkgo.xml").lines[0]
    assert line.structured_reference == "4654654654654654"
    assert line.counterparty_name == "NAME NAME"
    assert line.value_date is not None
    assert line.value_date.isoformat() == "2015-01-02"
    line054 = _parse("camt054_oca.xml").lines[0]
    assert line054.end_to_end_id == "ENDTOENDID-01"
    assert line054.bank_reference == "15180015077602405"


def test_camt_entry_whose_transactions_do_not_add_up_stays_one_line() -> None:
    line = _parse("camt054_v4_genkgo.xml").lines[0]
    assert line.amount == Decimal("-200000")
    assert line.extra["transactions"] == "3"
    assert "V3 block 2" in (line.remittance_text or "")


def test_camt_entries_without_details_use_entry_information() -> None:
    lines = _parse("camt053_davider80_kedder.xml").lines
    assert all(line.remittance_text for line in lines)
    assert any("Huber-SchindlerAG" in (line.remittance_text or "") for line in lines)


def test_mt940_rabobank_slash_codes_and_iban_from_statement_line() -> None:
    first, second = _parse("mt940_rabobank_iban_jejik.sta").lines[:2]
    assert first.counterparty_name == "CONTRA ACCOUNT HOLDER"  # wrapped mid-word over two lines
    assert first.counterparty_account == "NL70ABNA0987654321"
    assert first.end_to_end_id == "01-01-2013 12:00 0030000987654321"
    assert second.counterparty_name == "JOHN DOE"
    assert second.remittance_text == "Reference 201301234"


def test_mt940_german_subfields_reversals_and_sepa_keys() -> None:
    lines = _parse("mt940_sepa_de_betterplace.sta").lines
    assert lines[0].end_to_end_id == "TFNR 40005 00005"
    assert lines[0].remittance_text == "Grund nicht spezifiziert Reject aus SEPA-Ueberweisungsauftrag"
    storno = lines[5]
    assert storno.reversal
    assert storno.amount == Decimal("-204.88")
    credit = next(line for line in lines if line.end_to_end_id == "EndToEndIdTFNR2000400001")
    assert credit.amount == Decimal("15000.05")
    assert credit.counterparty_account == "DE42100100100043921105"
    assert credit.counterparty_name is not None
    assert credit.counterparty_name.startswith("Richter Renate")
    assert credit.remittance_text is not None
    assert credit.remittance_text.startswith("TO 13 TFNr 20004")
    assert sum(line.reversal for line in lines) >= 1


def test_mt940_triodos_and_mbank_dialects() -> None:
    triodos_statement = _parse("mt940_triodos_jejik.sta")
    # (this sample's balances do not reconcile with its lines; we report what the bank wrote)
    assert (triodos_statement.opening_balance, triodos_statement.closing_balance) == (
        Decimal("4975.09"), Decimal("4370.79"),
    )
    triodos = triodos_statement.lines
    assert triodos[0].remittance_text == "ALGEMENE TUSSENREKENING KOSTEN VAN 01-10-2010 TOT EN MET 31-12-2010"
    assert triodos[1].remittance_text == "HUUR KANTOOR - FEB 2010"
    mbank = _parse("mt940_mbank_pl.sta").lines[0]
    assert mbank.counterparty_name == "JAN NOWAK"
    assert mbank.counterparty_account == "56114010810000267002001001"
    assert mbank.remittance_text == "PRZELEW SRODKOW"
    assert mbank.bank_reference == "MB170119012058"


def test_mt940_abnamro_free_text_and_entry_dates() -> None:
    lines = _parse("mt940_abnamro_jejik.sta").lines
    giro = lines[0]
    assert giro.counterparty_name == "KPN - DIGITENNE"
    assert giro.remittance_text is not None
    assert "BETREFT FACTUUR D.D. 20-05-2011" in giro.remittance_text
    assert giro.amount == Decimal("-9.00")
    assert lines[1].value_date is not None
    assert lines[1].value_date.isoformat() == "2011-05-21"
    assert lines[1].booking_date.isoformat() == "2011-05-23"


def test_bai2_continuations_and_references() -> None:
    natwest = _parse("bai2_moj_natwest.bai2").lines
    assert natwest[4].amount == Decimal("0.89")
    assert natwest[4].remittance_text is not None
    assert "INTERNATIONAL-5373 CLIENT SECCY" in natwest[4].remittance_text
    svb = _parse("bai2_moj_svb.bai2").lines
    assert [line.bank_reference for line in svb] == ["172629", "150675"]
    assert svb[0].remittance_text == "SOME PAYMENT ACH OFFSET"
    moov = _parse("bai2_moov_sample3.txt").lines
    wire = next(line for line in moov if line.extra["type_code"] == "195")
    assert wire.remittance_text is not None
    assert wire.remittance_text.endswith("FOSTER CITY CA 94404")


def test_ofx_fields() -> None:
    lines = _parse("ofx_checking_ofxparse.ofx").lines
    assert lines[2].counterparty_name == "RETURNED CHECK FEE, CHECK # 319"
    assert lines[2].remittance_text == "RETURNED CHECK FEE, CHECK # 319 FOR $45.33 ON 04/07/11"
    assert lines[2].bank_reference == "0000488"
    assert lines[2].extra["check_number"] == "319"


def test_csv_builtin_mappings_pick_the_right_columns() -> None:
    fx = _parse("csv_generic_oca_sheet.csv").lines[1]
    assert (fx.amount, fx.currency) == (Decimal("1525.00"), "USD")
    assert (fx.extra["instructed_amount"], fx.extra["instructed_currency"]) == ("1000.00", "EUR")
    knab = _parse("csv_knab_nl_ofxstatement.csv").lines[0]
    assert (knab.amount, knab.counterparty_name) == (Decimal("-827.75"), "Gert Janssen (FR)")
    assert knab.bank_reference == "B9F21PGYA068V2KD"
    asn = _parse("csv_asn_nl_ofxstatement.csv").lines[3]
    assert (asn.counterparty_name, asn.remittance_text) == ("Optimal BV", "DIVIDEND 27/06/2022")
    ing = _parse("csv_ing_nl_ofxstatement.csv")
    assert ing.lines[3].counterparty_account == "NL99ASNB9999999999"
    # two identical bookings on one day are both kept, with different dedupe keys
    assert ing.lines[4] == ing.lines[5]
