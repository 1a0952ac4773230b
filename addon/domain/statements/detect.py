"""Recognise a statement file's format from its content (the file name is only a tie-breaker)."""

from __future__ import annotations

import re

from addon.domain.statements.model import StatementError

_XML_START = re.compile(rb"^\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<", re.S)
_CAMT = re.compile(rb"camt\.05[234]|<(\w+:)?BkToCstmr(Stmt|DbtCdtNtfctn|AcctRpt)\b")
_OFX = re.compile(rb"OFXHEADER\s*[:=]|<OFX>|<\?OFX\b", re.I)
# 01 file header: sender, receiver, then a YYMMDD creation date (a CSV row may start "01," too).
_BAI2 = re.compile(rb"^\s*01,[^,\r\n]*,[^,\r\n]*,\d{6},")
_MT940 = re.compile(rb"^:(20|25|28C?|60[FM]|61):", re.M)
_EXTENSIONS = {
    ".xml": "camt", ".053": "camt", ".054": "camt", ".sta": "mt940", ".940": "mt940",
    ".mt940": "mt940", ".swi": "mt940", ".bai": "bai2", ".bai2": "bai2", ".ofx": "ofx",
    ".qfx": "ofx", ".qbo": "ofx", ".csv": "csv", ".tsv": "csv",
}
_BOM = b"\xef\xbb\xbf"


def detect_format(data: bytes, filename: str | None = None) -> str:
    """Return one of camt/mt940/bai2/ofx/csv, or raise StatementError("auto", ...)."""
    head = data[:8192].removeprefix(_BOM)
    if not head.strip():
        raise StatementError("auto", "line 1", "empty file")
    if _OFX.search(head):
        return "ofx"
    if _XML_START.match(head):
        if _CAMT.search(head):
            return "camt"
        raise StatementError("auto", "line 1", "XML document that is neither camt.05x nor OFX")
    if _BAI2.match(head):
        return "bai2"
    if len(_MT940.findall(head)) >= 2:
        return "mt940"
    if _looks_like_text_table(head):
        return "csv"
    by_name = _by_extension(filename)
    if by_name:
        return by_name
    raise StatementError("auto", "line 1", "unrecognised statement format")


def _by_extension(filename: str | None) -> str | None:
    if not filename or "." not in filename:
        return None
    return _EXTENSIONS.get("." + filename.rsplit(".", 1)[1].lower())


def _looks_like_text_table(head: bytes) -> bool:
    # Binary junk is not a CSV: require printable text with a delimiter on the first lines.
    if b"\x00" in head:
        return False
    lines = [line for line in head.splitlines()[:5] if line.strip()]
    return bool(lines) and all(any(d in line for d in (b",", b";", b"\t", b"|")) for line in lines)
