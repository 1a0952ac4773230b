"""ISO 20022 camt.052/053/054 (versions .02-.08) to normalised bank lines, via lxml.

Each ``<TxDtls>`` becomes a line when the transaction amounts add up to the booked entry (batches,
several transactions per entry); otherwise the entry itself is the line, because the booked entry
amount is what moved the balance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from lxml import etree

from addon.domain.statements.model import (
    ParsedStatement,
    StatementError,
    StatementSection,
    combine_sections,
)
from addon.domain.statements.text import clean, join_text, normalise_account, parse_amount, to_minor
from addon.domain.statements.xmltree import (
    Element,
    children,
    find,
    find_all,
    first_text,
    local,
    strip_namespaces,
    text,
)
from addon.domain.types import BankLine

FMT = "camt"
_MESSAGES = ("BkToCstmrStmt", "BkToCstmrDbtCdtNtfctn", "BkToCstmrAcctRpt")
_REPORTS = ("Stmt", "Ntfctn", "Rpt")
_OPENING = ("OPBD", "PRCD")
_CLOSING = ("CLBD",)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


@dataclass(slots=True)
class _Details:
    """What one <TxDtls> (or a bare entry) says about the counterparty and the references."""

    counterparty_name: str | None = None
    counterparty_account: str | None = None
    end_to_end_id: str | None = None
    structured_reference: str | None = None
    remittance_text: str | None = None
    bank_reference: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def parse_camt(data: bytes) -> ParsedStatement:
    """Parse a camt.052/053/054 document; raise StatementError naming the element on bad input."""
    root = strip_namespaces(_parse_xml(data))
    if local(root) != "Document":
        raise StatementError(FMT, f"/{local(root)}", "root element is not <Document>")
    message = next((c for c in root if local(c) in _MESSAGES), None)
    if message is None:
        raise StatementError(FMT, "/Document", "no BkToCstmrStmt/DbtCdtNtfctn/AcctRpt message")
    sections: list[StatementSection] = []
    lines: list[BankLine] = []
    reports = [c for c in message if local(c) in _REPORTS]
    if not reports:
        raise StatementError(FMT, f"/Document/{local(message)}", "message holds no statement")
    for index, report in enumerate(reports, start=1):
        path = f"/Document/{local(message)}/{local(report)}[{index}]"
        section, report_lines = _parse_report(report, path)
        sections.append(section)
        lines.extend(report_lines)
    return combine_sections(FMT, sections, lines)


def _parse_xml(data: bytes) -> Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        first_error = exc
    except ValueError as exc:
        raise StatementError(FMT, "line 1", str(exc)) from exc
    # A wrong declared encoding is common: decode it ourselves and parse the text instead.
    if "encod" in str(first_error).lower() or "utf-8" in str(first_error).lower():
        from addon.domain.statements.text import decode

        body = _XML_DECL.sub("", decode(data, FMT), count=1)
        try:
            return etree.fromstring(body.encode("utf-8"), parser)
        except (etree.XMLSyntaxError, ValueError):
            pass
    line = getattr(first_error, "lineno", None) or 1
    raise StatementError(FMT, f"line {line}", f"malformed XML: {first_error.msg}") from first_error


def _parse_report(report: Element, path: str) -> tuple[StatementSection, list[BankLine]]:
    account = normalise_account(first_text(report, "Acct/Id/IBAN", "Acct/Id/Othr/Id"))
    currency = text(report, "Acct/Ccy")
    opening = closing = None
    for number, bal in enumerate(children(report, "Bal"), start=1):
        code = first_text(bal, "Tp/CdOrPrtry/Cd", "Tp/CdOrPrtry/Prtry")
        if code in _OPENING + _CLOSING:
            value, ccy = _amount(bal, "Amt", f"{path}/Bal[{number}]")
            value = _signed(value, bal, f"{path}/Bal[{number}]")
            currency = currency or ccy
            if code in _OPENING and opening is None:
                opening = value
            elif code in _CLOSING:
                closing = value
    lines: list[BankLine] = []
    for number, entry in enumerate(children(report, "Ntry"), start=1):
        lines.extend(_parse_entry(entry, f"{path}/Ntry[{number}]", account))
    if currency is None and lines:
        currency = lines[0].currency
    section = StatementSection(account, currency, opening, closing, text(report, "Id"), len(lines))
    return section, lines


def _parse_entry(entry: Element, path: str, account: str | None) -> list[BankLine]:
    amount, currency = _amount(entry, "Amt", path)
    amount = _signed(amount, entry, path)
    status = first_text(entry, "Sts/Cd", "Sts")
    if status is not None and status != "BOOK":
        return []  # pending/information entries have not moved money yet
    reversal = (text(entry, "RvslInd") or "").lower() in ("true", "1")
    booking = _date(entry, "BookgDt", path) or _date(entry, "ValDt", path)
    if booking is None:
        raise StatementError(FMT, f"{path}/BookgDt", "entry has no booking or value date")
    value_date = _date(entry, "ValDt", path)
    entry_ref = first_text(entry, "AcctSvcrRef", "NtryRef")
    txs = find_all(entry, "NtryDtls/TxDtls")
    split = _split_amounts(txs, amount, currency, path)
    money_in = amount > 0
    if split is not None:
        details = [_details(tx, money_in=money_in, reversal=reversal) for tx in txs]
        amounts = split
    else:
        details = [_entry_details(entry, txs, money_in=money_in, reversal=reversal)]
        amounts = [amount]
    lines = []
    entry_info = clean(text(entry, "AddtlNtryInf"))  # the entry's, shared by each of its transactions
    code = _bank_tx_code(entry)
    for detail, line_amount in zip(details, amounts, strict=True):
        extra = dict(detail.extra)
        if entry_info:
            extra["entry_info"] = entry_info
        if code and "bank_tx_code" not in extra:
            extra["bank_tx_code"] = code
        if account:
            extra["account"] = account
        lines.append(
            BankLine(
                booking_date=booking,
                amount=to_minor(line_amount, currency),
                currency=currency,
                value_date=value_date,
                counterparty_name=detail.counterparty_name,
                counterparty_account=detail.counterparty_account,
                end_to_end_id=detail.end_to_end_id,
                structured_reference=detail.structured_reference,
                remittance_text=detail.remittance_text or entry_info,
                bank_reference=detail.bank_reference or entry_ref,
                reversal=reversal,
                extra=extra,
            )
        )
    return lines


def _split_amounts(
    txs: list[Element], amount: Decimal, currency: str, path: str
) -> list[Decimal] | None:
    """Signed per-transaction amounts, or None when they do not add up to the booked entry."""
    if not txs:
        return None
    if len(txs) == 1:
        return [amount]
    split: list[Decimal] = []
    for number, tx in enumerate(txs, start=1):
        node = find(tx, "Amt")
        if node is None:
            node = find(tx, "AmtDtls/TxAmt/Amt")
        if node is None or (node.get("Ccy") or currency) != currency:
            return None
        value = parse_amount(node.text or "", FMT, f"{path}/NtryDtls/TxDtls[{number}]/Amt")
        indicator = text(tx, "CdtDbtInd") or ("CRDT" if amount > 0 else "DBIT")
        split.append(value if indicator == "CRDT" else -value)
    return split if sum(split, Decimal(0)) == amount else None


def _entry_details(
    entry: Element, txs: list[Element], *, money_in: bool, reversal: bool
) -> _Details:
    if len(txs) == 1:
        return _details(txs[0], money_in=money_in, reversal=reversal)
    if not txs:
        return _Details()
    # Several transactions that do not add up: keep their texts, but no single counterparty.
    parts = [_details(tx, money_in=money_in, reversal=reversal) for tx in txs]
    text_all = join_text(*(p.remittance_text for p in parts), sep=" | ")
    return _Details(remittance_text=text_all, extra={"transactions": str(len(txs))})


def _details(tx: Element, *, money_in: bool, reversal: bool) -> _Details:
    # The counterparty of money in is the debtor, except that a reversal swaps the roles.
    role, other = ("Dbtr", "Cdtr") if money_in != reversal else ("Cdtr", "Dbtr")
    parties = find(tx, "RltdPties")
    name = _party_name(parties, role)
    account = _party_account(parties, role)
    if name is None and account is None:
        name, account = _party_name(parties, other), _party_account(parties, other)
    e2e = text(tx, "Refs/EndToEndId")
    if e2e and e2e.upper() == "NOTPROVIDED":
        e2e = None
    refs = [r for r in (text(n) for n in find_all(tx, "RmtInf/Strd/CdtrRefInf/Ref")) if r]
    docs = [d for d in (text(n) for n in find_all(tx, "RmtInf/Strd/RfrdDocInf/Nb")) if d]
    ustrd = join_text(*(text(n) for n in find_all(tx, "RmtInf/Ustrd")), sep=" ")
    addtl_rmt = join_text(*(text(n) for n in find_all(tx, "RmtInf/Strd/AddtlRmtInf")), sep=" ")
    addtl_tx = clean(text(tx, "AddtlTxInf"))
    extra = _tx_extra(tx, refs, docs, addtl_tx)
    return _Details(
        counterparty_name=clean(name),
        counterparty_account=normalise_account(account),
        end_to_end_id=e2e,
        structured_reference=next(iter(refs + docs), None),
        remittance_text=ustrd or addtl_rmt or addtl_tx,
        bank_reference=text(tx, "Refs/AcctSvcrRef"),
        extra=extra,
    )


def _tx_extra(tx: Element, refs: list[str], docs: list[str], addtl_tx: str | None) -> dict[str, str]:
    extra: dict[str, str] = {}
    optional = {
        "mandate_id": text(tx, "Refs/MndtId"),
        "instruction_id": text(tx, "Refs/InstrId"),
        "return_reason": first_text(tx, "RtrInf/Rsn/Cd", "RtrInf/Rsn/Prtry"),
        "additional_info": addtl_tx,
        "ultimate_debtor": first_text(tx, "RltdPties/UltmtDbtr/Nm", "RltdPties/UltmtDbtr/Pty/Nm"),
    }
    extra.update({k: v for k, v in optional.items() if v})
    if len(refs) > 1:
        extra["structured_references"] = " ".join(refs)
    if docs:
        extra["referred_documents"] = " ".join(docs)
    instructed = find(tx, "AmtDtls/InstdAmt/Amt")
    if instructed is not None and instructed.text:
        extra["instructed_amount"] = instructed.text.strip()
        extra["instructed_currency"] = instructed.get("Ccy") or ""
    return extra


def _party_name(parties: Element | None, role: str) -> str | None:
    return first_text(parties, f"{role}/Nm", f"{role}/Pty/Nm")


def _party_account(parties: Element | None, role: str) -> str | None:
    return first_text(parties, f"{role}Acct/Id/IBAN", f"{role}Acct/Id/Othr/Id")


def _bank_tx_code(entry: Element) -> str | None:
    paths = ("BkTxCd/Domn/Cd", "BkTxCd/Domn/Fmly/Cd", "BkTxCd/Domn/Fmly/SubFmlyCd")
    domain = [text(entry, p) for p in paths]
    if all(domain):
        return "/".join(d for d in domain if d)
    return text(entry, "BkTxCd/Prtry/Cd")


def _amount(el: Element, path: str, where: str) -> tuple[Decimal, str]:
    node = find(el, path)
    if node is None:
        raise StatementError(FMT, f"{where}/{path}", "missing amount")
    currency = (node.get("Ccy") or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise StatementError(FMT, f"{where}/{path}", f"missing or bad currency {currency!r}")
    value = parse_amount(node.text or "", FMT, f"{where}/{path}")
    if value < 0:
        raise StatementError(FMT, f"{where}/{path}", "amount must be unsigned (sign is CdtDbtInd)")
    return value, currency


def _signed(value: Decimal, el: Element, where: str) -> Decimal:
    indicator = text(el, "CdtDbtInd")
    if indicator == "CRDT":
        return value
    if indicator == "DBIT":
        return -value
    raise StatementError(FMT, f"{where}/CdtDbtInd", f"expected CRDT or DBIT, got {indicator!r}")


def _date(el: Element, path: str, where: str) -> date | None:
    raw = first_text(el, f"{path}/Dt", f"{path}/DtTm")
    if raw is None:
        return None
    try:
        # Dates may carry an offset ("2017-04-01+02:00"); the calendar day is what was booked.
        return date.fromisoformat(raw[:10])
    except ValueError as exc:
        raise StatementError(FMT, f"{where}/{path}", f"bad date {raw!r}") from exc
