"""MT940, BAI2 and OFX parsing on small hand-written files, including malformed ones."""

from __future__ import annotations

from decimal import Decimal

import pytest

from addon.domain.statements import StatementError, parse_statement


def _mt940(lines: str, opening: str = ":60F:C231229EUR1000,00") -> bytes:
    return ("{1:F01BANKDEFFXXXX0000000000}{2:O940}{4:\n:20:REF1\n:25:DE89370400440532013000\n"
            f":28C:1/1\n{opening}\n{lines}\n:62F:C240102EUR1000,00\n-}}\n").encode("latin-1")


def test_mt940_swift_blocks_year_crossing_and_reversal_marks() -> None:
    data = _mt940(
        ":61:2401021229RD12,5NTRFNONREF//B1\n:86:/EREF/E-1/NAME/ACME BV/REMI/USTD//INV 1001/\n"
        ":61:240102C7,NCHGNONREF\n:86:Bank charges"
    )
    statement = parse_statement(data, filename="x.sta")
    first, second = statement.lines
    assert statement.account == "DE89370400440532013000"
    assert first.booking_date.isoformat() == "2023-12-29"  # entry date falls in the previous year
    assert first.value_date is not None
    assert first.value_date.isoformat() == "2024-01-02"
    assert (first.amount, first.reversal) == (Decimal("12.50"), True)  # RD: reversal of a debit
    assert (first.end_to_end_id, first.counterparty_name) == ("E-1", "ACME BV")
    assert first.remittance_text == "INV 1001"
    assert first.bank_reference == "B1"
    assert (second.amount, second.remittance_text) == (Decimal("7.00"), "Bank charges")


def test_mt940_semicolon_and_subfield_dialects() -> None:
    data = _mt940(
        ":61:240102C100,00NTRFNONREF\n:86:166?00GUTSCHRIFT?20EREF+E2E?21SVWZ+RE 2024-1?22"
        "7 danke?31DE44500105175407324931?32Muster GmbH\n"
        ":61:240102C5,00NTRFNONREF\n:86:TRANSFER; OD: JAN KOWALSKI  UL. X 1; Z RACH.: 123; TYT.: FV 7/2024"
    )
    german, polish = parse_statement(data).lines
    assert german.end_to_end_id == "E2E"
    assert german.remittance_text == "RE 2024-17 danke"  # sub-fields are joined without a space
    assert (german.counterparty_name, german.counterparty_account) == (
        "Muster GmbH", "DE44500105175407324931",
    )
    assert (polish.counterparty_name, polish.counterparty_account) == ("JAN KOWALSKI", "123")
    assert polish.remittance_text == "FV 7/2024"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (":61:240102C1O,00NTRFNONREF", "bad :61:"),
        (":61:241302C10,00NTRFNONREF", "bad date"),
    ],
)
def test_mt940_malformed_line_is_rejected_with_line_number(bad: str, reason: str) -> None:
    with pytest.raises(StatementError) as info:
        parse_statement(_mt940(bad), format="mt940")
    assert info.value.format == "mt940"
    assert info.value.location == "line 6"
    assert reason in info.value.reason


def test_mt940_bad_balance_is_rejected() -> None:
    with pytest.raises(StatementError, match="bad balance"):
        parse_statement(_mt940(":61:240102C1,00NTRF", opening=":60F:C2312EUR1,00"))


BAI2 = b"""01,SENDER,RECEIVER,240102,0800,1,,,2/
02,RECEIVER,SENDER,1,240102,,EUR,2/
03,ACC-1,,010,100000,,,015,112500,,/
16,175,12500,V,240103,,BREF1,CREF1,INVOICE 1001 ACME/ 16,475,1000,0,BREF2,,FEE/
88, CONTINUED
16,301,1000,,BREF3,,/
49,999,3/
98,999,1,5/
99,999,1,7"""


def test_bai2_packed_records_funds_types_and_continuations() -> None:
    statement = parse_statement(BAI2)
    assert statement.format == "bai2"
    assert (statement.opening_balance, statement.closing_balance) == (Decimal("1000.00"), Decimal("1125.00"))
    first, second, third = statement.lines
    assert (first.amount, first.currency) == (Decimal("125.00"), "EUR")
    assert first.value_date is not None
    assert first.value_date.isoformat() == "2024-01-03"
    assert (first.bank_reference, first.extra["customer_reference"]) == ("BREF1", "CREF1")
    assert first.remittance_text == "INVOICE 1001 ACME"
    assert (second.amount, second.remittance_text) == (Decimal("-10.00"), "FEE CONTINUED")
    assert third.amount == Decimal("10.00")


@pytest.mark.parametrize(
    ("data", "location", "reason"),
    [
        (BAI2.replace(b"16,175,12500", b"16,175,12X00"), "line 4", "bad amount"),
        (BAI2.replace(b"16,475", b"16,705"), "line 4", "not a credit or debit"),
        (BAI2.replace(b"02,RECEIVER,SENDER,1,240102", b"02,RECEIVER,SENDER,1,241341"), "line 2", "bad date"),
        (BAI2.replace(b"03,ACC-1", b"17,ACC-1"), "line 3", "unknown record type"),
        (b"01,A,B,240102,0800,1,,,2/\n16,175,100,,,,x/\n", "line 2", "outside a 03"),
    ],
)
def test_bai2_malformed(data: bytes, location: str, reason: str) -> None:
    with pytest.raises(StatementError) as info:
        parse_statement(data, format="bai2")
    assert (info.value.format, info.value.location) == ("bai2", location)
    assert reason in info.value.reason


OFX2 = """<?xml version="1.0" encoding="UTF-8"?>
<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>
<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>EUR</CURDEF>
<BANKACCTFROM><BANKID>1</BANKID><ACCTID>NL91ABNA0417164300</ACCTID></BANKACCTFROM>
<BANKTRANLIST>
<STMTTRN><TRNTYPE>CREDIT</TRNTYPE><DTPOSTED>20240105</DTPOSTED><TRNAMT>1234,50</TRNAMT>
<FITID>F1</FITID><NAME>Café &amp; Co</NAME><MEMO>INV-77</MEMO>
<BANKACCTTO><BANKID>2</BANKID><ACCTID>DE44500105175407324931</ACCTID></BANKACCTTO></STMTTRN>
</BANKTRANLIST><LEDGERBAL><BALAMT>99.5</BALAMT><DTASOF>20240105</DTASOF></LEDGERBAL>
</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>"""


def test_ofx_xml_version_with_decimal_comma_and_escapes() -> None:
    statement = parse_statement(OFX2.encode())
    (line,) = statement.lines
    assert statement.format == "ofx"
    assert statement.closing_balance == Decimal("99.50")
    assert (line.amount, line.currency) == (Decimal("1234.50"), "EUR")
    assert (line.counterparty_name, line.remittance_text) == ("Café & Co", "INV-77")
    assert line.counterparty_account == "DE44500105175407324931"


def test_ofx_sgml_with_wrong_declared_charset() -> None:
    sgml = ("OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nENCODING:USASCII\nCHARSET:1252\n\n"
            "<OFX><CREDITCARDMSGSRSV1><CCSTMTTRNRS><CCSTMTRS><CURDEF>USD<CCACCTFROM><ACCTID>4111"
            "</CCACCTFROM><BANKTRANLIST><STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240105120000[-5:EST]"
            "<TRNAMT>-5.00<FITID>9<NAME>Zoë’s Café</STMTTRN></BANKTRANLIST></CCSTMTRS>"
            "</CCSTMTTRNRS></CREDITCARDMSGSRSV1></OFX>")
    (line,) = parse_statement(sgml.encode("utf-8")).lines  # declared 1252, written in UTF-8
    assert line.counterparty_name == "Zoë’s Café"
    assert line.amount == Decimal("-5.00")


def test_ofx_missing_amount_names_the_element() -> None:
    with pytest.raises(StatementError) as info:
        parse_statement(OFX2.replace("<TRNAMT>1234,50</TRNAMT>", "").encode())
    assert info.value.location == "/OFX/STMTRS[1]/STMTTRN[1]/TRNAMT"


def test_ofx_with_two_accounts_keeps_each_line_with_its_statement() -> None:
    data = b"""OFXHEADER:100
<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>EUR<BANKACCTFROM><ACCTID>A1</BANKACCTFROM>
<BANKTRANLIST><STMTTRN><TRNAMT>1.00<DTPOSTED>20240101</STMTTRN></BANKTRANLIST></STMTRS></STMTTRNRS>
<STMTTRNRS><STMTRS><CURDEF>USD<BANKACCTFROM><ACCTID>A2</BANKACCTFROM><BANKTRANLIST>
<STMTTRN><TRNAMT>2.00<DTPOSTED>20240101</STMTTRN><STMTTRN><TRNAMT>3<DTPOSTED>20240102</STMTTRN>
</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>"""
    statement = parse_statement(data)
    assert (statement.account, statement.currency) == (None, None)
    assert [(line.amount, line.currency, line.extra["account"]) for line in statement.lines] == [
        (Decimal("1.00"), "EUR", "A1"), (Decimal("2.00"), "USD", "A2"), (Decimal("3.00"), "USD", "A2"),
    ]
