"""A bank statement the demo's customers "paid" with: a CSV export in a generic bank layout.

Lines cover what cash application meets in real life: an exact invoice reference the payer's bank took
its charges from (a fee is booked), a reference with a typo, no reference (name and amount), one payment
for two invoices, a short payment, with more open invoices one that pays too much (the rest stays as
customer credit), and an unrelated line that must stay unmatched. The next day's camt.053 (``build_return``)
takes one of the posted payments back, as a SEPA return.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

# The bank's CSV layout as a saved column mapping (what an admin sets up once per bank).
MAPPING = ('{"name": "demo_bank", "date": "Date", "date_format": "%Y-%m-%d", "amount": "Amount", '
           '"currency": "Currency", "counterparty": "Payer", "text": ["Description"]}')


def _typo(number: str) -> str:
    # Swap two adjacent digits near the end: "INV-000123" -> "INV-000132".
    chars = list(number)
    chars[-1], chars[-2] = chars[-2], chars[-1]
    return "".join(chars)


def _same_customer_pair(invoices: Sequence[dict[str, Any]], start: int) -> tuple[int, int] | None:
    """Indexes of the first two invoices from ``start`` on with one customer and currency, if any."""
    seen: dict[tuple[str, str], int] = {}
    for index in range(start, len(invoices)):
        key = (invoices[index]["customer"], invoices[index]["currency"])
        if key in seen:
            return seen[key], index
        seen[key] = index
    return None


def build_statement(open_invoices: Sequence[dict[str, Any]], day: date) -> bytes:
    """``open_invoices``: dicts with number, customer, amount_due (Decimal), currency, oldest first."""
    rows: list[tuple[str, Decimal, str, str]] = []  # label, amount, payer, currency
    inv = list(open_invoices)
    if len(inv) >= 1:
        # The payer's bank kept its charges (4% of the invoice, at most 7.50: within the fee tolerance),
        # so Cashline pays the invoice in full and books the shortfall to Bank Fees.
        fee = min(Decimal("7.50"), (inv[0]["amount_due"] * Decimal("0.04")).quantize(Decimal("0.01")))
        rows.append((f"Payment {inv[0]['number']} /CHGS/", inv[0]["amount_due"] - fee, inv[0]["customer"],
                     inv[0]["currency"]))
    if len(inv) >= 2:
        rows.append((f"Inv {_typo(inv[1]['number'])} thanks", inv[1]["amount_due"], inv[1]["customer"],
                     inv[1]["currency"]))
    if len(inv) >= 3:
        rows.append(("Transfer", inv[2]["amount_due"], inv[2]["customer"], inv[2]["currency"]))
    if len(inv) >= 5:
        # One deposit for two invoices, of one customer where the ledger has such a pair (what a remittance
        # advice covers; posted to Xero as one batch payment), else the next two.
        first, second = _same_customer_pair(inv, start=3) or (3, 4)
        inv.insert(3, inv.pop(first))  # (first < second: moving it leaves second's index unchanged)
        inv.insert(4, inv.pop(second))
        pair = inv[3]["amount_due"] + inv[4]["amount_due"]
        rows.append((f"{inv[3]['number']} and {inv[4]['number']}", pair, inv[3]["customer"], inv[3]["currency"]))
    if len(inv) >= 6:
        short = (inv[5]["amount_due"] * Decimal("0.6")).quantize(Decimal("0.01"))
        rows.append((f"Part payment {inv[5]['number']}", short, inv[5]["customer"], inv[5]["currency"]))
    if len(inv) >= 7:  # larger demo companies: one customer pays too much (the rest stays as credit)
        over = (inv[6]["amount_due"] * Decimal("0.2")).quantize(Decimal("0.01"))
        rows.append((f"Payment {inv[6]['number']}", inv[6]["amount_due"] + over, inv[6]["customer"],
                     inv[6]["currency"]))
    rows.append(("Card terminal settlement 88231", Decimal("73.10"), "PAYMENT SERVICES BV", "GBP"))
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    writer.writerow(["Date", "Description", "Currency", "Amount", "Payer"])
    for label, amount, payer, currency in rows:
        writer.writerow([day.isoformat(), label, currency, f"{amount:.2f}", payer])
    return out.getvalue().encode()


def build_return(payment: dict[str, Any], day: date, *, reason: str = "AC04") -> bytes:
    """The next day's camt.053: the bank takes back ``payment`` (a dict with amount, currency, payer, text of a
    line already posted), a SEPA return with reason ``reason`` (AC04: the payer's account is closed)."""
    amount, currency = payment["amount"], payment["currency"]
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>DEMO-RETURN-{day:%Y%m%d}</MsgId><CreDtTm>{day.isoformat()}T06:00:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>DEMO-RETURN-{day:%Y%m%d}</Id><CreDtTm>{day.isoformat()}T06:00:00</CreDtTm>
   <Acct><Id><IBAN>GB29NWBK60161331926819</IBAN></Id><Ccy>{currency}</Ccy></Acct>
   <Ntry>
    <Amt Ccy="{currency}">{amount:.2f}</Amt><CdtDbtInd>DBIT</CdtDbtInd><RvslInd>true</RvslInd><Sts>BOOK</Sts>
    <BookgDt><Dt>{day.isoformat()}</Dt></BookgDt><ValDt><Dt>{day.isoformat()}</Dt></ValDt>
    <AcctSvcrRef>DEMO-RTN-{day:%Y%m%d}-1</AcctSvcrRef>
    <NtryDtls><TxDtls>
     <RltdPties><Dbtr><Nm>{escape(payment["payer"])}</Nm></Dbtr></RltdPties>
     <RmtInf><Ustrd>{escape(payment["text"])}</Ustrd></RmtInf>
     <RtrInf><Rsn><Cd>{reason}</Cd></Rsn></RtrInf>
    </TxDtls></NtryDtls>
   </Ntry>
  </Stmt>
 </BkToCstmrStmt>
</Document>""".encode()
