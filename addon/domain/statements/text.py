"""Small helpers the parsers share: decoding bytes, parsing amounts and tidying text."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from charset_normalizer import from_bytes

from addon.domain.statements.model import StatementError

_BOMS = ("\ufeff",)
# Encodings banks actually export in; free detection over every code page guesses wildly on the
# few accented letters of a statement (it read "Müller" as cp850 "M³ller").
_BANK_ENCODINGS = ("cp1252", "cp1250", "iso8859_15", "iso8859_2", "cp850", "cp1251", "utf_16")
_AMOUNT = re.compile(r"^[+-]?\d+(\.\d+)?$")
_SPACES = re.compile(r"\s+")


def decode(data: bytes, fmt: str, declared: str | None = None) -> str:
    """Decode a statement to text: UTF-8 first, then a declared charset, then detection.

    Banks often declare one encoding and write another (cp1252 files labelled ASCII or UTF-8), so
    a declaration is only a hint that must actually decode the bytes.
    """
    for encoding in ("utf-8", declared):
        if not encoding:
            continue
        try:
            return _strip_bom(data.decode(encoding))
        except (UnicodeDecodeError, LookupError):
            continue
    encoding = _detect(data[:65536])
    if encoding:
        try:
            return _strip_bom(data.decode(encoding))
        except (UnicodeDecodeError, LookupError):
            pass
    # cp1252 leaves five bytes undefined; latin-1 decodes anything, so fall back to it last.
    try:
        return _strip_bom(data.decode("cp1252"))
    except UnicodeDecodeError:
        return _strip_bom(data.decode("latin-1"))


def _detect(sample: bytes) -> str | None:
    """The least chaotic decoding, ties going to the encoding banks use most (cp1252 first)."""
    ranked = []
    for match in from_bytes(sample, cp_isolation=list(_BANK_ENCODINGS)):
        names = [match.encoding, *match.could_be_from_charset]
        rank = min((_BANK_ENCODINGS.index(n) for n in names if n in _BANK_ENCODINGS), default=99)
        preferred = min(names, key=lambda n: _BANK_ENCODINGS.index(n) if n in _BANK_ENCODINGS else 99)
        ranked.append((round(match.chaos, 2), rank, preferred))
    return min(ranked)[2] if ranked else None


def _strip_bom(text: str) -> str:
    return text[1:] if text[:1] in _BOMS else text


def parse_amount(
    raw: str, fmt: str, location: str, *, decimal_separator: str = ".", implied_decimals: int = 0
) -> Decimal:
    """Parse a signed amount written with the given decimal separator (thousands marks allowed)."""
    # Drop blanks, Swiss thousands apostrophes and the currency symbols some CSV exports add.
    text = re.sub(r"[\s'\u00a0€$£¥]", "", raw)
    negative = False
    if text.endswith("-"):
        negative, text = True, text[:-1]
    elif text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1]
    thousands = "," if decimal_separator == "." else "."
    integer, _, fraction = text.partition(decimal_separator)
    if thousands in fraction or not _grouped(integer.lstrip("+-"), thousands):
        # "1,25" under a "." convention is a decimal comma, not 125: refuse rather than rescale.
        raise StatementError(fmt, location, f"bad amount {raw.strip()!r}")
    text = text.replace(thousands, "").replace(decimal_separator, ".")
    if text.endswith("."):
        text += "0"  # MT940 writes "300," for 300.00
    if not _AMOUNT.match(text):
        raise StatementError(fmt, location, f"bad amount {raw.strip()!r}")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise StatementError(fmt, location, f"bad amount {raw.strip()!r}") from exc
    if implied_decimals:
        value = value.scaleb(-implied_decimals)
    return -value if negative else value


def _grouped(integer: str, thousands: str) -> bool:
    """Whether thousands marks, if any, split the integer digits into real groups.

    Western grouping (1,234,567) or Indian lakh grouping (12,34,567): the last group always has
    three digits, so a mark before one, two or four digits is a decimal mark of the other convention.
    """
    groups = integer.split(thousands)
    if len(groups) == 1:
        return True
    head, middle, last = groups[0], groups[1:-1], groups[-1]
    if not (1 <= len(head) <= 3 and len(last) == 3):
        return False
    return all(len(g) == 3 for g in middle) or all(len(g) == 2 for g in middle)


def clean(text: str | None) -> str | None:
    """Collapse whitespace; empty strings become None."""
    if text is None:
        return None
    tidy = _SPACES.sub(" ", text).strip()
    return tidy or None


def join_text(*parts: str | None, sep: str = " ") -> str | None:
    """Join the non-empty parts of a free text."""
    kept = [p for p in (clean(p) for p in parts) if p]
    return sep.join(kept) if kept else None


def normalise_account(raw: str | None) -> str | None:
    """Upper-case an IBAN/account number and drop the spaces banks print inside it."""
    tidy = clean(raw)
    if tidy is None:
        return None
    compact = tidy.replace(" ", "")
    return compact.upper() if re.match(r"^[A-Za-z]{2}\d{2}[A-Za-z0-9]+$", compact) else tidy


# ISO 4217 currencies whose minor unit is not 2 (the common ones banks report in).
_MINOR_UNITS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}


def minor_units(currency: str | None) -> int:
    """Number of decimals of a currency's minor unit (2 unless ISO 4217 says otherwise)."""
    return _MINOR_UNITS.get((currency or "").upper(), 2)


def to_minor(amount: Decimal, currency: str | None) -> Decimal:
    """Write an amount with at least the currency's decimals ("300," becomes 300.00)."""
    exponent = -minor_units(currency)
    as_tuple = amount.as_tuple()
    if isinstance(as_tuple.exponent, int) and as_tuple.exponent > exponent:
        return amount.quantize(Decimal(1).scaleb(exponent))
    return amount
