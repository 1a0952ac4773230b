"""OFX/QFX bank and credit-card statements (SGML 1.x and XML 2.x) to normalised bank lines.

ofxtools is strict by design: it rejects values longer than the spec allows (a 10-digit BANKID in
our samples), unknown private tags and mislabelled encodings. Statements only need a handful of
elements, so this module reads OFX with a tolerant tag scanner that treats SGML's unclosed leaf
elements and XML's closed ones alike.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from addon.domain.statements.model import (
    ParsedStatement,
    StatementError,
    StatementSection,
    combine_sections,
)
from addon.domain.statements.text import clean, decode, normalise_account, parse_amount, to_minor
from addon.domain.types import BankLine

FMT = "ofx"
_TOKEN = re.compile(r"<(/?)([A-Za-z0-9._\-]+)[^<>]*>([^<]*)")
_CHARSET = re.compile(r"^\s*CHARSET\s*:\s*(\S+)", re.M | re.I)
_XML_ENCODING = re.compile(rb"<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9_\-]+)[\"']", re.I)
_OFX_START = re.compile(r"<OFX>", re.I)
_STATEMENTS = ("STMTRS", "CCSTMTRS")


@dataclass(slots=True)
class _Node:
    name: str
    text: str
    children: list[_Node] = field(default_factory=list)

    def descendants(self, name: str) -> Iterator[_Node]:
        """Elements with this name below this one, in document order."""
        # Never look inside a nested statement: its transactions belong to that statement.
        for child in self.children:
            if child.name == name:
                yield child
            if child.name not in _STATEMENTS:
                yield from child.descendants(name)

    def get(self, path: str) -> str | None:
        """Text at a slash path of names, searching descendants for each step."""
        nodes = [self]
        for step in path.split("/"):
            nodes = [d for n in nodes for d in n.descendants(step)]
            if not nodes:
                return None
        return nodes[0].text or None


def parse_ofx(data: bytes) -> ParsedStatement:
    """Parse an OFX 1.x (SGML) or 2.x (XML) statement download; StatementError names the element."""
    text = decode(data, FMT, _declared_charset(data))
    start = _OFX_START.search(text)
    if start is None:
        raise StatementError(FMT, "line 1", "no <OFX> element")
    root = _tree(text[start.start():])
    statements = [n for name in _STATEMENTS for n in root.descendants(name)]
    if not statements:
        raise StatementError(FMT, "/OFX", "no bank (STMTRS) or credit-card (CCSTMTRS) statement")
    sections: list[StatementSection] = []
    lines: list[BankLine] = []
    for index, stmt in enumerate(statements, start=1):
        section, stmt_lines = _statement(stmt, f"/OFX/{stmt.name}[{index}]")
        sections.append(section)
        lines.extend(stmt_lines)
    return combine_sections(FMT, sections, lines)


def _declared_charset(data: bytes) -> str | None:
    xml = _XML_ENCODING.search(data[:512])
    if xml:
        return xml.group(1).decode("ascii")
    header = _CHARSET.search(data[:1024].decode("latin-1"))
    if header and header.group(1).upper() not in ("NONE", "ISO-8859-1"):
        value = header.group(1)
        return f"cp{value}" if value.isdigit() else value
    return "latin-1" if header else None


def _tree(text: str) -> _Node:
    root = _Node("ROOT", "")
    stack = [root]
    for match in _TOKEN.finditer(text):
        closing, name, value = match.group(1), match.group(2).upper(), match.group(3)
        if closing:
            # Pop back to the matching open aggregate; a stray close tag is ignored.
            for depth in range(len(stack) - 1, 0, -1):
                if stack[depth].name == name:
                    del stack[depth:]
                    break
            continue
        node = _Node(name, html.unescape(value).strip())
        stack[-1].children.append(node)
        if not node.text:
            stack.append(node)  # an aggregate (SGML leaves always carry text)
    return root


def _statement(stmt: _Node, path: str) -> tuple[StatementSection, list[BankLine]]:
    currency = (stmt.get("CURDEF") or "").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise StatementError(FMT, f"{path}/CURDEF", f"missing or bad currency {currency!r}")
    account = normalise_account(stmt.get("BANKACCTFROM/ACCTID") or stmt.get("CCACCTFROM/ACCTID"))
    lines = [
        _transaction(txn, currency, account, f"{path}/STMTTRN[{number}]")
        for number, txn in enumerate(stmt.descendants("STMTTRN"), start=1)
    ]
    balance = stmt.get("LEDGERBAL/BALAMT")
    closing = _amount(balance, f"{path}/LEDGERBAL/BALAMT") if balance else None
    if closing is not None:
        closing = to_minor(closing, currency)
    section = StatementSection(account, currency, None, closing, None, len(lines))
    return section, lines


def _transaction(txn: _Node, currency: str, account: str | None, path: str) -> BankLine:
    raw_amount = txn.get("TRNAMT")
    if raw_amount is None:
        raise StatementError(FMT, f"{path}/TRNAMT", "transaction without an amount")
    posted = txn.get("DTPOSTED")
    if posted is None:
        raise StatementError(FMT, f"{path}/DTPOSTED", "transaction without a posting date")
    line_currency = (txn.get("CURRENCY/CURSYM") or currency).upper()
    extra = {
        key: value
        for key, value in (
            ("transaction_type", txn.get("TRNTYPE")),
            ("check_number", txn.get("CHECKNUM")),
            ("reference_number", txn.get("REFNUM")),
            ("account", account),
        )
        if value
    }
    available = txn.get("DTAVAIL")
    return BankLine(
        booking_date=_date(posted, f"{path}/DTPOSTED"),
        amount=to_minor(_amount(raw_amount, f"{path}/TRNAMT"), line_currency),
        currency=line_currency,
        value_date=_date(available, f"{path}/DTAVAIL") if available else None,
        counterparty_name=clean(txn.get("NAME") or txn.get("PAYEE/NAME")),
        counterparty_account=normalise_account(txn.get("BANKACCTTO/ACCTID")),
        remittance_text=clean(txn.get("MEMO")),
        bank_reference=txn.get("FITID"),
        extra=extra,
    )


def _amount(raw: str, path: str) -> Decimal:
    # Some European banks write OFX amounts with a decimal comma.
    separator = "," if "," in raw and "." not in raw else "."
    return parse_amount(raw, FMT, path, decimal_separator=separator)


def _date(raw: str, path: str) -> date:
    digits = raw.strip()[:8]
    if not re.fullmatch(r"\d{8}", digits):
        raise StatementError(FMT, path, f"bad date {raw!r}")
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError as exc:
        raise StatementError(FMT, path, f"bad date {raw!r}") from exc
