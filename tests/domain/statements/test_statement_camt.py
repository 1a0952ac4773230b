"""camt.05x parsing on small hand-written documents: versions, splits, reversals, malformed input."""

from __future__ import annotations

from decimal import Decimal

import pytest

from addon.domain.statements import StatementError, parse_statement


def _doc(version: str, entries: str, kind: str = "BkToCstmrStmt", report: str = "Stmt") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:{version}">
 <{kind}><GrpHdr><MsgId>M1</MsgId></GrpHdr>
  <{report}><Id>S-1</Id>
   <Acct><Id><IBAN>DE89 3704 0044 0532 0130 00</IBAN></Id><Ccy>EUR</Ccy></Acct>
   <Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">100.00</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd><Dt><Dt>2024-05-01</Dt></Dt></Bal>
   {entries}
  </{report}>
 </{kind}>
</Document>""".encode()


CREDIT_V08 = """
<Ntry><Amt Ccy="EUR">250.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
 <BookgDt><DtTm>2024-05-02T10:00:00+02:00</DtTm></BookgDt><ValDt><Dt>2024-05-03</Dt></ValDt>
 <NtryDtls><TxDtls>
  <Refs><EndToEndId>E2E-1</EndToEndId><AcctSvcrRef>BANK-9</AcctSvcrRef></Refs>
  <RltdPties><Dbtr><Pty><Nm>Acme  Trading GmbH</Nm></Pty></Dbtr>
   <DbtrAcct><Id><IBAN>de44500105175407324931</IBAN></Id></DbtrAcct>
   <Cdtr><Pty><Nm>Us Ltd</Nm></Pty></Cdtr></RltdPties>
  <RmtInf><Ustrd>INV-1001</Ustrd><Ustrd>and INV-1002</Ustrd>
   <Strd><RfrdDocInf><Nb>INV-1001</Nb></RfrdDocInf><CdtrRefInf><Ref>RF18539007547034</Ref></CdtrRefInf></Strd>
  </RmtInf>
 </TxDtls></NtryDtls>
</Ntry>"""


@pytest.mark.parametrize("version", ["camt.053.001.02", "camt.053.001.04", "camt.053.001.08"])
def test_versions_parse_alike(version: str) -> None:
    statement = parse_statement(_doc(version, CREDIT_V08))
    assert statement.format == "camt"
    assert statement.account == "DE89370400440532013000"
    assert statement.opening_balance == Decimal("-100.00")
    (line,) = statement.lines
    assert line.amount == Decimal("250.00")
    assert line.booking_date.isoformat() == "2024-05-02"
    assert line.value_date is not None
    assert line.value_date.isoformat() == "2024-05-03"
    assert line.counterparty_name == "Acme Trading GmbH"
    assert line.counterparty_account == "DE44500105175407324931"
    assert line.end_to_end_id == "E2E-1"
    assert line.structured_reference == "RF18539007547034"
    assert line.remittance_text == "INV-1001 and INV-1002"
    assert line.bank_reference == "BANK-9"
    assert line.extra["referred_documents"] == "INV-1001"


def test_camt054_notification_and_pending_entries_skipped() -> None:
    pending = CREDIT_V08.replace("<Sts><Cd>BOOK</Cd></Sts>", "<Sts><Cd>PDNG</Cd></Sts>")
    doc = _doc("camt.054.001.08", CREDIT_V08 + pending, "BkToCstmrDbtCdtNtfctn", "Ntfctn")
    assert len(parse_statement(doc).lines) == 1


def test_several_transactions_that_add_up_become_lines() -> None:
    entry = """
<Ntry><Amt Ccy="EUR">30.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2024-05-02</Dt></BookgDt>
 <NtryDtls>
  <TxDtls><Amt Ccy="EUR">10.00</Amt><RltdPties><Dbtr><Nm>A</Nm></Dbtr></RltdPties></TxDtls>
  <TxDtls><AmtDtls><TxAmt><Amt Ccy="EUR">20.00</Amt></TxAmt></AmtDtls>
   <RltdPties><Dbtr><Nm>B</Nm></Dbtr></RltdPties></TxDtls>
 </NtryDtls></Ntry>"""
    lines = parse_statement(_doc("camt.053.001.02", entry)).lines
    assert [(line.counterparty_name, line.amount) for line in lines] == [
        ("A", Decimal("10.00")), ("B", Decimal("20.00")),
    ]


def test_reversal_of_a_credit_names_the_creditor_side() -> None:
    entry = """
<Ntry><Amt Ccy="EUR">5.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><RvslInd>true</RvslInd>
 <BookgDt><Dt>2024-05-02</Dt></BookgDt>
 <NtryDtls><TxDtls><RltdPties><Dbtr><Nm>Payer</Nm></Dbtr><Cdtr><Nm>Us</Nm></Cdtr></RltdPties></TxDtls></NtryDtls>
</Ntry>"""
    (line,) = parse_statement(_doc("camt.053.001.02", entry)).lines
    assert line.reversal
    assert line.amount == Decimal("-5.00")
    assert line.counterparty_name == "Payer"


def test_truncated_xml_is_rejected_with_line() -> None:
    data = _doc("camt.053.001.02", CREDIT_V08)
    with pytest.raises(StatementError) as info:
        parse_statement(data[: len(data) // 2])
    assert info.value.format == "camt"
    assert info.value.location.startswith("line ")
    assert "malformed XML" in info.value.reason


def test_bad_amount_names_the_element() -> None:
    data = _doc("camt.053.001.02", CREDIT_V08.replace(">250.00<", ">25O.00<"))
    with pytest.raises(StatementError) as info:
        parse_statement(data)
    assert info.value.location == "/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/Amt"
    assert "bad amount" in info.value.reason


def test_missing_credit_debit_indicator() -> None:
    data = _doc("camt.053.001.02", CREDIT_V08.replace("<CdtDbtInd>CRDT</CdtDbtInd>", ""))
    with pytest.raises(StatementError, match="CdtDbtInd"):
        parse_statement(data)


def test_wrong_declared_encoding_is_tolerated() -> None:
    data = _doc("camt.053.001.02", CREDIT_V08.replace("Acme", "Müller")).replace(
        "Müller".encode(), "Müller".encode("latin-1")
    )
    (line,) = parse_statement(data).lines
    assert line.counterparty_name == "Müller Trading GmbH"


def test_entities_are_not_expanded() -> None:
    data = b"""<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>
<Ntry><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2024-01-01</Dt></BookgDt>
<AddtlNtryInf>&x;</AddtlNtryInf></Ntry></Stmt></BkToCstmrStmt></Document>"""
    (line,) = parse_statement(data).lines
    assert "root:" not in (line.remittance_text or "")
