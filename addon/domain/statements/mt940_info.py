"""The :86: information field of MT940, in the dialects banks actually write.

* ``?20..?29`` / ``>20..>29`` sub-fields (German GVC layout, Triodos), with SEPA keys such as
  ``EREF+``/``SVWZ+`` inside the purpose sub-fields;
* ``/EREF/ /NAME/ /REMI/`` slash codes (Rabobank, ING, SWIFT MT940 "structured" variants);
* ``KEY: value;`` pairs separated by semicolons (mBank and other Polish banks);
* free text (ABN AMRO and most older exports), where we only pick out obvious tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from addon.domain.statements.text import clean, join_text, normalise_account

_SUBFIELD = re.compile(r"[?>](\d{2})")
_SUBFIELD_LAYOUT = re.compile(r"^\s*(\d{3})?\s*[?>]\d{2}")
_PURPOSE_CODES = tuple(f"{n:02d}" for n in (*range(20, 30), *range(60, 64)))
_SEGMENT_START = re.compile(r"^([A-Z]{4})[+:]")
_ID_KEYS = {"EREF", "KREF", "MREF", "CRED", "DEBT", "IBAN", "BIC", "ABWA", "ABWE", "COAM", "OAMT"}
_SLASH_CODES = (
    "EREF|MARF|CSID|CNTP|REMI|PURP|ULTC|ULTD|ULTB|BENM|ORDP|NAME|ID|ADDR|ISDT|RTRN|IBAN|BIC|TRCD|"
    "BUSP|CREF|OCMT|CHGS|EXCH|PREF|RTYP|ACCW|SVCL|ORIG"
)
_SLASH = re.compile(rf"/({_SLASH_CODES})/")
_SEMICOLON_PAIR = re.compile(r"^\s*([A-ZĄĆĘŁŃÓŚŹŻ][A-ZĄĆĘŁŃÓŚŹŻ .]{0,20}?)\s*:\s*(.*)$", re.S)
_SEMI_NAME_KEYS = {"OD", "DO", "NADAWCA", "ODBIORCA"}
_SEMI_ACCOUNT_KEYS = {"Z RACH.", "NA RACH.", "RACH."}
_SEMI_TEXT_KEYS = {"TYT.", "TYTUL", "TYTUŁ"}
_IBAN = re.compile(r"\b([A-Z]{2}\d{2}[A-Z0-9]{10,30})\b")
_NL_PAYMENT_REF = re.compile(r"BETALINGSKENM\.?\s*:?\s*([\d ]{7,})")
_GIRO_NAME = re.compile(r"^(?:GIRO|BGC)\s+(\d+)\s+(.+?)(?:\s{2,}|$)")
# MT940 lines are at most 65 characters after the tag; a full line was wrapped mid-word.
_FULL_LINE = 65


@dataclass(slots=True)
class Info:
    """What the :86: field says about one transaction."""

    counterparty_name: str | None = None
    counterparty_account: str | None = None
    end_to_end_id: str | None = None
    structured_reference: str | None = None
    remittance_text: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def join_lines(lines: list[str], first_prefix: int = 4) -> str:
    """Undo MT940 line wrapping: no space after a full-width line, one space otherwise."""
    out = ""
    for number, line in enumerate(lines):
        if number:
            previous = len(lines[number - 1]) + (first_prefix if number == 1 else 0)
            out += "" if previous >= _FULL_LINE else " "
        out += line
    return out


def parse_info(lines: list[str]) -> Info:
    """Parse the :86: lines of one transaction into counterparty and reference fields."""
    raw = "".join(lines)
    if _SUBFIELD_LAYOUT.match(raw) and len(_SUBFIELD.findall(raw)) >= 2:
        return _parse_subfields(raw)
    text = join_lines(lines)
    if _SLASH.search(text):
        return _parse_slash(text)
    parts = text.split(";")
    if len(parts) >= 3 and sum(bool(_SEMICOLON_PAIR.match(p)) for p in parts) >= 2:
        return _parse_semicolon(parts)
    return _parse_free(text)


def _parse_subfields(raw: str) -> Info:
    # Sub-fields are cut at 27 characters mid-word and physical lines at 65, so both join with "".
    pieces = _SUBFIELD.split(raw)
    gvc = pieces[0].strip()
    fields: dict[str, list[str]] = {}
    for code, value in zip(pieces[1::2], pieces[2::2], strict=True):
        fields.setdefault(code, []).append(value)
    purpose = [v for code in _PURPOSE_CODES for v in fields.get(code, [])]
    keyed = _sepa_segments(purpose)
    info = Info(
        counterparty_name=clean("".join(fields.get("32", []) + fields.get("33", []))),
        counterparty_account=normalise_account("".join(fields.get("31", []))),
    )
    eref = keyed.pop("EREF", None)
    info.end_to_end_id = None if eref is None or eref.upper() == "NOTPROVIDED" else eref
    info.remittance_text = join_text(keyed.pop("SVWZ", None), keyed.pop("", None), keyed.pop("MTLG", None))
    optional = {
        "gvc": gvc,
        "posting_text": clean("".join(fields.get("00", []))),
        "bank_code": clean("".join(fields.get("30", []))),
        "return_code": clean("".join(fields.get("34", []))),
        "mandate_id": keyed.pop("MREF", None),
        "customer_reference": keyed.pop("KREF", None),
        "creditor_id": keyed.pop("CRED", None),
        "ultimate_party": keyed.pop("ABWA", None) or keyed.pop("ABWE", None),
    }
    info.extra = {k: v for k, v in optional.items() if v}
    info.extra.update({k.lower(): v for k, v in keyed.items() if v})
    if info.remittance_text is None:
        info.remittance_text = clean(" ".join(purpose))
    return info


def _sepa_segments(purpose: list[str]) -> dict[str, str]:
    """Group purpose sub-fields into SEPA key segments ("EREF+", "SVWZ+", "MTLG:"...)."""
    segments: list[tuple[str, str]] = []
    for value in purpose:
        match = _SEGMENT_START.match(value)
        if match:
            segments.append((match.group(1), value[match.end():]))
        elif segments:
            key, text = segments[-1]
            segments[-1] = (key, text + value)
        else:
            segments.append(("", value))
    out: dict[str, str] = {}
    for key, text in segments:
        tidy = clean(text)
        if tidy:
            out[key] = join_text(out.get(key), tidy) or tidy
    return out


def _parse_slash(text: str) -> Info:
    pieces = _SLASH.split(text)
    values: dict[str, str] = {}
    for code, value in zip(pieces[1::2], pieces[2::2], strict=True):
        value = value.strip().strip("/").strip()
        if value and code not in values:
            values[code] = value
    info = Info(counterparty_name=clean(values.get("NAME")))
    info.counterparty_account = normalise_account(values.get("IBAN"))
    if "CNTP" in values:  # ING: /CNTP/account/bic/name/city/
        cntp = [p.strip() for p in values["CNTP"].split("/")]
        info.counterparty_account = info.counterparty_account or normalise_account(cntp[0] or None)
        if len(cntp) > 2:
            info.counterparty_name = info.counterparty_name or clean(cntp[2])
    eref = values.get("EREF")
    info.end_to_end_id = None if eref is None or eref.upper() == "NOTPROVIDED" else eref
    remi = values.get("REMI")
    if remi:
        structured = re.match(r"^STRD/[A-Z]{3,4}/(.*)$", remi)
        if structured:
            info.structured_reference = clean(structured.group(1).strip("/"))
        else:
            info.remittance_text = clean(re.sub(r"^USTD/+", "", remi).replace("/", " "))
    optional = {
        "mandate_id": values.get("MARF"),
        "creditor_id": values.get("CSID"),
        "return_reason": values.get("RTRN"),
        "purpose": values.get("PURP"),
        "issue_date": values.get("ISDT"),
        "ultimate_party": values.get("ULTD") or values.get("ULTC"),
    }
    info.extra = {k: v for k, v in optional.items() if v}
    return info


def _parse_semicolon(parts: list[str]) -> Info:
    info = Info()
    free: list[str] = []
    for part in parts:
        match = _SEMICOLON_PAIR.match(part)
        if not match:
            free.append(part)
            continue
        key, value = match.group(1).strip().upper(), match.group(2)
        if key in _SEMI_NAME_KEYS:
            # The name comes first; the address follows after a run of spaces.
            info.counterparty_name = clean(re.split(r"\s{2,}", value.strip())[0])
            info.extra["counterparty_address"] = clean(value) or ""
        elif key in _SEMI_ACCOUNT_KEYS:
            info.counterparty_account = normalise_account(value)
        elif key in _SEMI_TEXT_KEYS:
            info.remittance_text = clean(value)
        elif clean(value):
            info.extra[key.lower().rstrip(".")] = clean(value) or ""
    posting = join_text(*free)
    if posting:
        info.extra["posting_text"] = posting
    if info.remittance_text is None:
        info.remittance_text = posting
    return info


def _parse_free(text: str) -> Info:
    info = Info(remittance_text=clean(text))
    giro = _GIRO_NAME.match(text)
    if giro:
        info.counterparty_name = clean(giro.group(2))
        info.extra["counterparty_number"] = giro.group(1)
    iban = _IBAN.search(text)
    if iban:
        info.counterparty_account = iban.group(1)
    ref = _NL_PAYMENT_REF.search(text)
    if ref:
        info.structured_reference = ref.group(1).replace(" ", "")
    return info
