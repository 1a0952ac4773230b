"""Bank-statement import: every supported file format parsed into normalised ``BankLine`` values.

Pure parsing (no database, no clock): the import service persists the result, using
:func:`statement_fingerprint` and :func:`dedupe_keys` to skip what it has already imported.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from addon.domain.statements.bai2 import parse_bai2
from addon.domain.statements.camt import parse_camt
from addon.domain.statements.csv_mapping import BUILTIN_MAPPINGS, CsvMapping
from addon.domain.statements.csvfile import parse_csv
from addon.domain.statements.detect import detect_format
from addon.domain.statements.fingerprint import (
    content_fingerprint,
    dedupe_keys,
    line_dedupe_key,
    statement_fingerprint,
)
from addon.domain.statements.model import FORMATS, ParsedStatement, StatementError, StatementSection
from addon.domain.statements.mt940 import parse_mt940
from addon.domain.statements.ofx import parse_ofx
from addon.domain.statements.serialise import line_to_dict, statement_to_dict

__all__ = [
    "BUILTIN_MAPPINGS",
    "FORMATS",
    "CsvMapping",
    "ParsedStatement",
    "StatementError",
    "StatementSection",
    "content_fingerprint",
    "dedupe_keys",
    "detect_format",
    "line_dedupe_key",
    "line_to_dict",
    "load_mapping",
    "parse_statement",
    "statement_fingerprint",
    "statement_to_dict",
]

_PARSERS: dict[str, Callable[[bytes], ParsedStatement]] = {
    "camt": parse_camt,
    "mt940": parse_mt940,
    "bai2": parse_bai2,
    "ofx": parse_ofx,
}


def parse_statement(
    data: bytes,
    *,
    filename: str | None = None,
    format: str | None = None,
    csv_mapping: CsvMapping | None = None,
) -> ParsedStatement:
    """Parse a statement file of any supported format; malformed input raises StatementError only."""
    fmt = detect_format(data, filename) if format in (None, "auto") else format
    if fmt not in FORMATS:
        raise StatementError(str(fmt), "file", f"unknown format {fmt!r}; expected one of {FORMATS}")
    try:
        if fmt == "csv":
            return parse_csv(data, csv_mapping)
        return _PARSERS[fmt](data)
    except StatementError:
        raise
    except (ValueError, LookupError, ArithmeticError, etree.LxmlError) as exc:
        # Safety net: whatever slipped past the parser's own checks still rejects the whole file.
        raise StatementError(fmt, "unknown", f"{type(exc).__name__}: {exc}") from exc


def load_mapping(name_or_json: str) -> CsvMapping:
    """A built-in mapping by name, or a mapping saved as JSON; ValueError when neither."""
    if name_or_json in BUILTIN_MAPPINGS:
        return BUILTIN_MAPPINGS[name_or_json]
    if name_or_json.lstrip().startswith("{"):
        return CsvMapping.from_json(name_or_json)
    names = ", ".join(sorted(BUILTIN_MAPPINGS))
    raise ValueError(f"unknown CSV mapping {name_or_json!r}; built-in mappings: {names}")
