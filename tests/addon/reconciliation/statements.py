"""Builders for statement files used by the reconciliation tests (camt.053 and CSV, as banks send)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Entry:
    amount: str  # positive = money in
    payer: str | None = None
    iban: str | None = None
    text: str | None = None  # unstructured remittance
    ref: str | None = None  # structured creditor reference
    day: date = date(2026, 11, 10)
    bank_ref: str | None = None
    reversal: bool = False  # camt RvslInd: the bank takes back an earlier booking
    return_reason: str | None = None  # camt TxDtls/RtrInf/Rsn/Cd (a SEPA return)


def camt053(entries: list[Entry], *, statement_id: str = "STMT-1", iban: str = "GB29NWBK60161331926819",
            currency: str = "GBP") -> bytes:
    """A camt.053.001.02 document with one statement holding ``entries``."""
    body = "".join(_entry(n, e, currency) for n, e in enumerate(entries, 1))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>{statement_id}</MsgId><CreDtTm>2026-11-11T06:00:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>{statement_id}</Id><CreDtTm>2026-11-11T06:00:00</CreDtTm>
   <Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>{currency}</Ccy></Acct>
   {body}
  </Stmt>
 </BkToCstmrStmt>
</Document>""".encode()


def _bank_ref(e: Entry) -> str:
    # Derived from the booking itself, like a bank's own id: the same booking keeps it across exports.
    return f"BR{zlib.crc32(repr(e).encode()):010d}"


def _entry(n: int, e: Entry, currency: str) -> str:
    sign = "CRDT" if not e.amount.startswith("-") else "DBIT"
    amount = e.amount.lstrip("-")
    party = ""
    if e.payer or e.iban:
        name = f"<Dbtr><Nm>{escape(e.payer)}</Nm></Dbtr>" if e.payer else ""
        acct = f"<DbtrAcct><Id><IBAN>{e.iban}</IBAN></Id></DbtrAcct>" if e.iban else ""
        party = f"<RltdPties>{name}{acct}</RltdPties>"
    rmt = ""
    if e.text or e.ref:
        ustrd = f"<Ustrd>{escape(e.text)}</Ustrd>" if e.text else ""
        strd = (f"<Strd><CdtrRefInf><Ref>{escape(e.ref)}</Ref></CdtrRefInf></Strd>" if e.ref else "")
        rmt = f"<RmtInf>{ustrd}{strd}</RmtInf>"
    rvsl = "<RvslInd>true</RvslInd>" if e.reversal else ""
    rtr = f"<RtrInf><Rsn><Cd>{e.return_reason}</Cd></Rsn></RtrInf>" if e.return_reason else ""
    return f"""
   <Ntry>
    <Amt Ccy="{currency}">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd>{rvsl}<Sts>BOOK</Sts>
    <BookgDt><Dt>{e.day.isoformat()}</Dt></BookgDt><ValDt><Dt>{e.day.isoformat()}</Dt></ValDt>
    <AcctSvcrRef>{e.bank_ref or _bank_ref(e)}</AcctSvcrRef>
    <NtryDtls><TxDtls>{party}{rmt}{rtr}</TxDtls></NtryDtls>
   </Ntry>"""


CSV_MAPPING = ('{"name": "testbank", "date": "Date", "amount": "Amount", "default_currency": "GBP", '
               '"counterparty": "Payer", "counterparty_account": "IBAN", "text": ["Details"]}')


def csv_statement(rows: list[tuple[str, str, str, str, str]]) -> bytes:
    """A CSV export read with ``CSV_MAPPING``: rows of (date, amount, payer, iban, details)."""
    lines = ["Date,Amount,Payer,IBAN,Details", *(",".join(r) for r in rows)]
    return ("\n".join(lines) + "\n").encode()
