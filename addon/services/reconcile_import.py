"""Statement import: parse a file all-or-nothing, then store only what was not imported before.

Two dedupe levels: the whole statement (``statement_fingerprint``: the same file uploaded twice,
even re-exported) and each line (``dedupe_keys``: overlapping statements, e.g. a weekly export that
repeats the last days of the previous one). Both are backed by unique constraints, so two concurrent
imports of the same file cannot both succeed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.domain import types as d
from addon.domain.statements import (
    BUILTIN_MAPPINGS,
    CsvMapping,
    ParsedStatement,
    dedupe_keys,
    load_mapping,
    parse_statement,
    statement_fingerprint,
)
from addon.domain.statements.returns import is_reversal, return_reason
from addon.models import BankLine, BankStatement, Tenant

logger = logging.getLogger(__name__)

_KEY_CHUNK = 500  # stay well below every backend's bound-parameter limit


def saved_mappings(tenant: Tenant) -> dict[str, str]:
    """The tenant's saved CSV mappings: name -> CsvMapping JSON."""
    return dict((tenant.settings or {}).get("csv_mappings", {}))


def save_mapping(tenant: Tenant, name: str, raw_json: str) -> CsvMapping:
    """Validate and store a CSV mapping under ``name`` (ValueError when invalid)."""
    name = name.strip()
    if not name or len(name) > 64:
        raise ValueError("a mapping needs a name of 1 to 64 characters")
    mapping = CsvMapping.from_json(raw_json)
    # Reassign (JSON columns do not track in-place mutation).
    tenant.settings = {**(tenant.settings or {}),
                       "csv_mappings": {**saved_mappings(tenant), name: mapping.to_json()}}
    return mapping


def resolve_mapping(tenant: Tenant, mapping: CsvMapping | str | None) -> CsvMapping | None:
    """A mapping object, a saved mapping's name, a built-in name or inline JSON -> CsvMapping."""
    if mapping is None or isinstance(mapping, CsvMapping):
        return mapping
    saved = saved_mappings(tenant)
    if mapping in saved:
        return CsvMapping.from_json(saved[mapping])
    if mapping in BUILTIN_MAPPINGS or mapping.lstrip().startswith("{"):
        return load_mapping(mapping)
    names = ", ".join(sorted([*saved, *BUILTIN_MAPPINGS]))
    raise ValueError(f"unknown CSV mapping {mapping!r}; known mappings: {names}")


def import_statement(session: Session, tenant: Tenant, data: bytes, filename: str | None,
                     mapping: CsvMapping | str | None = None, *, format: str | None = None) -> dict[str, Any]:
    """Parse and store a statement file; raises StatementError (nothing written) when malformed.

    Returns a summary: ``statement_id`` (None when the file was imported before), ``format``,
    ``lines`` in the file, ``imported``, ``duplicates`` (lines already imported), ``ignored``
    (outgoing money and reversals, stored but never matched) and ``duplicate_file``.
    """
    parsed = parse_statement(data, filename=filename, format=format,
                             csv_mapping=resolve_mapping(tenant, mapping))
    fingerprint = statement_fingerprint(parsed)
    earlier = session.scalar(select(BankStatement.id).where(BankStatement.tenant_id == tenant.id,
                                                            BankStatement.fingerprint == fingerprint))
    summary: dict[str, Any] = {"statement_id": None, "format": parsed.format, "lines": len(parsed.lines),
                               "imported": 0, "duplicates": len(parsed.lines), "ignored": 0,
                               "duplicate_file": earlier is not None}
    if earlier is not None:
        summary["earlier_statement_id"] = earlier
        logger.info("tenant %s: statement %s already imported as %s", tenant.id, filename, earlier)
        return summary
    keys = dedupe_keys(parsed)
    known = _known_keys(session, tenant.id, keys)
    statement = _statement_row(tenant, parsed, fingerprint, filename)
    for line, key in zip(parsed.lines, keys, strict=True):
        if key in known:
            continue
        known.add(key)
        row = _line_row(tenant, line, key)
        summary["ignored"] += row.status == "ignored"
        statement.lines.append(row)
    statement.line_count = len(statement.lines)
    session.add(statement)
    session.flush()
    summary.update(statement_id=statement.id, imported=statement.line_count,
                   duplicates=len(parsed.lines) - statement.line_count)
    logger.info("tenant %s: imported %s lines (%s duplicates) from %s", tenant.id, statement.line_count,
                summary["duplicates"], filename)
    return summary


def _known_keys(session: Session, tenant_id: int, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), _KEY_CHUNK):
        chunk = keys[start:start + _KEY_CHUNK]
        found.update(session.scalars(select(BankLine.dedupe_key).where(
            BankLine.tenant_id == tenant_id, BankLine.dedupe_key.in_(chunk))))
    return found


def _statement_row(tenant: Tenant, parsed: ParsedStatement, fingerprint: str,
                   filename: str | None) -> BankStatement:
    return BankStatement(tenant_id=tenant.id, fingerprint=fingerprint, filename=_cut(filename, 255),
                         format=parsed.format, account=_cut(parsed.account, 64),
                         currency=_cut(parsed.currency, 3), line_count=0)


def _line_row(tenant: Tenant, line: d.BankLine, key: str) -> BankLine:
    # Outgoing money and reversals are not customer payments: kept for the record, never matched. A
    # reversal or return of money in is checked against what we posted after matching (reconcile_reversals).
    reversal = is_reversal(line)
    status = "ignored" if line.amount <= 0 or reversal else "new"
    return BankLine(tenant_id=tenant.id, dedupe_key=key, booking_date=line.booking_date,
                    value_date=line.value_date, amount=line.amount, currency=line.currency.upper()[:3],
                    counterparty_name=_cut(line.counterparty_name, 255),
                    counterparty_account=_cut(line.counterparty_account, 64),
                    end_to_end_id=_cut(line.end_to_end_id, 255),
                    structured_reference=_cut(line.structured_reference, 255),
                    remittance_text=line.remittance_text, bank_reference=_cut(line.bank_reference, 255),
                    status=status, reversal=reversal, return_reason=_cut(return_reason(line), 64))


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value else value


def to_domain_line(row: BankLine) -> d.BankLine:
    """The stored line as the matching engine's value type."""
    return d.BankLine(booking_date=row.booking_date, amount=row.amount, currency=row.currency,
                      value_date=row.value_date, counterparty_name=row.counterparty_name,
                      counterparty_account=row.counterparty_account, end_to_end_id=row.end_to_end_id,
                      structured_reference=row.structured_reference, remittance_text=row.remittance_text,
                      bank_reference=row.bank_reference)


def mapping_names(tenant: Tenant) -> list[str]:
    """Saved mapping names first, then the built-in ones (for the upload form)."""
    return [*sorted(saved_mappings(tenant)), *sorted(BUILTIN_MAPPINGS)]

