"""Storing risk scores: one ``risk_scores`` row per scored invoice, upserted in bulk (COPY on PostgreSQL)."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from psycopg import sql
from sqlalchemy import Table
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from addon.models import RiskScore, Tenant

UPSERT_BATCH = 5000  # rows per executemany call (bounds the parameter lists held at once)
_UPDATED = ("model_version", "p_late", "band", "expected_pay_date", "p10_days", "p50_days", "p90_days",
            "reasons", "scored_at")
_P_LATE_STEP = Decimal("0.00001")


def persist_scores(session: Session, tenant: Tenant, scores: Sequence[Any], invoice_pks: Mapping[str, int],
                   version: str, *, now: datetime | None = None) -> int:
    """Upsert one risk_scores row per score: INSERT ... ON CONFLICT (invoice_id) DO UPDATE.

    ``invoice_pks`` maps each score's ``invoice_id`` to the invoice's primary key. ``written_band`` is
    left alone, so band-change write-back still compares with what the ERP was last told. On PostgreSQL
    the rows are COPYed into a temporary table and upserted by one statement; elsewhere one compiled
    statement is executemany'd in batches.
    """
    session.flush()  # pending ORM changes must reach the tables before the Core statements do
    now = now or datetime.now(UTC)
    if session.get_bind().dialect.name == "postgresql":
        _copy_upsert(session, tenant.id, scores, invoice_pks, version, now)
    else:
        values = [_score_values(tenant.id, invoice_pks[s.invoice_id], s, version, now) for s in scores]
        table = cast(Table, RiskScore.__table__)
        stmt = sqlite_insert(table)
        stmt = stmt.on_conflict_do_update(index_elements=[table.c.invoice_id],
                                          set_={c: stmt.excluded[c] for c in _UPDATED})
        # One statement compiled once and executemany'd; a literal multi-row VALUES per batch cost ~10x more.
        for start in range(0, len(values), UPSERT_BATCH):
            session.execute(stmt, values[start:start + UPSERT_BATCH])
    # Core statements bypass the identity map: RiskScore objects loaded earlier are stale now.
    for obj in [o for o in session.identity_map.values() if isinstance(o, RiskScore)]:
        session.expire(obj)
    return len(scores)


_COLUMNS = ("tenant_id", "invoice_id", *_UPDATED)
_STAGE = sql.Identifier("risk_scores_stage")
_STAGE_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, _COLUMNS))
_STAGE_SQL = (
    sql.SQL("CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS SELECT {columns} FROM risk_scores WITH NO DATA"),
    sql.SQL("INSERT INTO risk_scores ({columns}) SELECT {columns} FROM {stage} "
            "ON CONFLICT (invoice_id) DO UPDATE SET {updates}"),
    sql.SQL("COPY {stage} ({columns}) FROM STDIN"),
    sql.SQL("DROP TABLE {stage}"))
_STAGE_PARTS = {"stage": _STAGE, "columns": _STAGE_COLUMNS, "updates": sql.SQL(", ").join(
    sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in _UPDATED)}


def _copy_upsert(session: Session, tenant_id: int, scores: Sequence[Any], invoice_pks: Mapping[str, int],
                 version: str, now: datetime) -> None:
    """PostgreSQL: COPY the rows into a temporary table (same column types), then one upsert from it.

    The COPY text is written directly (no parameter objects per row): 100,000 rows take about a second.
    Values are those of ``_score_values``; p_late goes in as its 4-decimal text, which numeric(6,5) stores
    as the same number that ``_score_values`` quantizes to.
    """
    create, upsert, copy_in, drop = (statement.format(**_STAGE_PARTS) for statement in _STAGE_SQL)
    head = f"{tenant_id}\t"
    tail = f"\t{now.isoformat()}\n"
    version_text = _copy_text(version)
    @functools.cache  # a book repeats the same few reason lists many times: encode each once
    def reasons(found: tuple[str, ...]) -> str:
        return _copy_text(json.dumps(list(found)))

    raw: Any = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        cur.execute(create)
        with cur.copy(copy_in) as copy:
            # Batch by batch: the server parses one batch while the next is formatted.
            for start in range(0, len(scores), UPSERT_BATCH):
                copy.write("".join(
                    f"{head}{invoice_pks[s.invoice_id]}\t{version_text}\t{_p_late_text(s.p_late)}\t"
                    f"{_copy_text(s.band)}\t{s.expected_pay_date.isoformat() if s.expected_pay_date else NULL_TEXT}\t"
                    f"{round(s.p10_days)}\t{round(s.p50_days)}\t{round(s.p90_days)}\t{reasons(tuple(s.reasons))}{tail}"
                    for s in scores[start:start + UPSERT_BATCH]))
        cur.execute(upsert)
        cur.execute(drop)


NULL_TEXT = "\\N"


def _p_late_text(p_late: Any) -> str:
    """p_late as ``_score_values`` stores it (quantized to 5 decimals), without a Decimal when it has fewer."""
    text = str(p_late)
    if "e" in text or "E" in text or len(text.partition(".")[2]) > 5:
        return str(Decimal(text).quantize(_P_LATE_STEP))
    return text


def _copy_text(value: str) -> str:
    """A value in COPY's text format (backslash, tab, newline and carriage return escaped)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _score_values(tenant_id: int, invoice_pk: int, score: Any, version: str, now: datetime) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "invoice_id": invoice_pk, "model_version": version,
            "p_late": Decimal(str(score.p_late)).quantize(_P_LATE_STEP), "band": score.band,
            "expected_pay_date": score.expected_pay_date, "p10_days": round(score.p10_days),
            "p50_days": round(score.p50_days), "p90_days": round(score.p90_days),
            "reasons": list(score.reasons), "scored_at": now}
