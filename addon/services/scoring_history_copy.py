"""The PostgreSQL fast path of ``scoring_history.history_frame``: a tenant's invoices as columns from one
binary COPY of fixed-width arrays that numpy reads in place (no row objects at all)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from psycopg import sql
from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.domain.scoring.history import NO_DATE, HistoryFrame, IntArray, InvoiceEvents, decimal_string_rank
from addon.models import Customer, Tenant
from addon.services.scoring_events import dated_events

_DAY = "- DATE '0001-01-01' + 1"  # date -> day ordinal (date.toordinal)
_FLAGS = (("disputed", "COALESCE(i.disputed, false) OR i.disputed_on IS NOT NULL"),
          ("credited", "COALESCE(i.amount_credited, 0) > 0"),
          ("sent", "COALESCE(i.sent, false)"), ("open", "i.status = 'open' AND i.amount_due > 0"),
          ("partial", "COALESCE(pa.n, 0) > CASE WHEN i.status = 'paid' THEN 1 ELSE 0 END"))
# (column, its SQL, binary COPY type): every field fixed-width and never NULL, so numpy can read the rows.
_COPY_FIELDS = (
    ("id", "i.id", ">i4"), ("customer", "COALESCE(i.customer_id, -1)", ">i4"),
    ("issue", f"i.issue_date {_DAY}", ">i4"), ("due", f"i.due_date {_DAY}", ">i4"),
    ("dispute_from", f"COALESCE(i.disputed_on, i.due_date) {_DAY}", ">i4"),
    ("dispute_until", f"COALESCE(i.dispute_resolved_on {_DAY}, {NO_DATE})", ">i4"),
    # paid with no date known to the mirror counts as paid on time, as in scoring_history.tenant_history
    ("paid", f"CASE WHEN i.status = 'paid' THEN COALESCE(i.fully_paid_on, i.due_date) {_DAY} ELSE {NO_DATE} END",
     ">i4"),
    ("amount", "i.total::float8", ">f8"), ("currency", "rpad(i.currency, 3)::text", "S3"),
    ("flags", " | ".join(f"(CASE WHEN {sql} THEN {1 << n} ELSE 0 END)" for n, (_, sql) in enumerate(_FLAGS)),
     ">i4"))
# One COPY row per million invoice ids, each field an array of fixed-width elements: libpq hands over
# a few large rows instead of a million small ones, and numpy reads each array in place.
_COPY_QUERY = sql.SQL(
    "COPY (SELECT {arrays} FROM (SELECT i.id / 1000000 AS part, {fields} FROM invoices i "
    "LEFT JOIN (SELECT invoice_id, count(*) AS n FROM payment_allocations WHERE tenant_id = {tenant} "
    "GROUP BY invoice_id) pa ON pa.invoice_id = i.id "
    "WHERE i.tenant_id = {tenant} AND i.status IN ('open', 'paid')) q GROUP BY part) TO STDOUT (FORMAT BINARY)"
).format(arrays=sql.SQL(", ").join(sql.SQL("array_agg({name})").format(name=sql.Identifier(name))
                                   for name, _, _ in _COPY_FIELDS),
         fields=sql.SQL(", ").join(sql.SQL("{expr} AS {name}").format(expr=sql.SQL(expr), name=sql.Identifier(name))
                                   for name, expr, _ in _COPY_FIELDS),
         tenant=sql.Placeholder("tenant"))
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _copy_columns(data: bytes | bytearray) -> dict[str, npt.NDArray[Any]] | None:
    """The columns of a binary COPY of one-dimensional arrays of fixed-width, non-NULL elements."""
    if not data.startswith(_COPY_SIGNATURE):
        return None
    pos = 19 + int.from_bytes(data[15:19], "big")  # signature, flags, header extension
    parts: dict[str, list[npt.NDArray[Any]]] = {name: [] for name, _, _ in _COPY_FIELDS}
    while int.from_bytes(data[pos:pos + 2], "big", signed=True) == len(_COPY_FIELDS):
        pos += 2
        for name, _, kind in _COPY_FIELDS:
            size = int.from_bytes(data[pos:pos + 4], "big", signed=True)
            ndim, has_null = int.from_bytes(data[pos + 4:pos + 8], "big"), int.from_bytes(data[pos + 8:pos + 12], "big")
            count = int.from_bytes(data[pos + 16:pos + 20], "big")
            width = np.dtype(kind).itemsize
            if ndim != 1 or has_null or size != 20 + count * (4 + width):
                return None  # e.g. a currency code that is not three ASCII letters: take the generic path
            items = np.frombuffer(data, dtype=[("len", ">i4"), ("value", kind)], count=count, offset=pos + 24)
            if np.any(items["len"] != width):
                return None
            parts[name].append(items["value"])
            pos += 4 + size
    if data[pos:] != b"\xff\xff":
        return None
    return {name: np.concatenate(arrays) if arrays else np.zeros(0, dtype=kind)
            for (name, arrays), (_, _, kind) in zip(parts.items(), _COPY_FIELDS, strict=True)}


def pg_history_frame(session: Session, tenant: Tenant) -> tuple[HistoryFrame, IntArray] | None:
    """``scoring_history.history_frame`` on PostgreSQL: the tenant's invoices as columns and the rows of the
    open ones; None if the data does not fit fixed-width fields (the caller then loads records)."""
    raw: Any = session.connection().connection.driver_connection
    data = bytearray()
    with raw.cursor() as cur, cur.copy(_COPY_QUERY, {"tenant": int(tenant.id)}) as copy:
        for block in copy:
            data += block
    rows = _copy_columns(data)
    if rows is None:
        return None
    count = len(rows["id"])
    customer_pk = rows["customer"].astype(np.int64)
    pks, customer = np.unique(customer_pk, return_inverse=True)
    names = _customer_names(session, tenant, pks.tolist())
    codes = {name: n for n, name in enumerate(dict.fromkeys(names))}  # two keys may share a name
    customer = np.array([codes[name] for name in names], dtype=np.int64)[customer]
    currency_bytes, currency = np.unique(rows["currency"], return_inverse=True)
    flags = rows["flags"].astype(np.int64)
    flag = {name: (flags & (1 << n)) != 0 for n, (name, _) in enumerate(_FLAGS)}
    ids = rows["id"].astype(np.int64)
    due = rows["due"].astype(np.int64)
    frame = HistoryFrame(
        customers=list(codes), customer=customer, issue=rows["issue"].astype(np.int64), due=due,
        paid=rows["paid"].astype(np.int64), amount=rows["amount"].astype(np.float64),
        currencies=[c.decode().rstrip(" ") for c in currency_bytes.tolist()],
        currency=currency.astype(np.int64), countries=[], country=np.full(count, -1, dtype=np.int64),
        disputed=flag["disputed"], dispute_from=rows["dispute_from"].astype(np.int64), credited=flag["credited"],
        partial=flag["partial"],
        sent=flag["sent"], id_rank=decimal_string_rank(ids), pks=ids,
        dispute_until=rows["dispute_until"].astype(np.int64))
    frame.events = _frame_events(session, tenant, ids)
    return frame, np.flatnonzero(flag["open"])


def _frame_events(session: Session, tenant: Tenant, pks: IntArray) -> InvoiceEvents:
    """Dated payments and reminders of the frame's invoices (rows located by key, vectorised): open
    invoices need them for their own state, and the scoring-time window for its overdue snapshots."""
    payments, reminders, promises = dated_events(session, tenant)
    row = _rows_of(pks, [*payments, *reminders, *promises])
    return InvoiceEvents.from_lists(
        [(row[pk], day.toordinal(), float(amount)) for pk, items in payments.items() if pk in row
         for day, amount in items],
        [(row[pk], day.toordinal()) for pk, days in reminders.items() if pk in row for day in days],
        [(row[pk], made.toordinal(), promised.toordinal()) for pk, items in promises.items() if pk in row
         for made, promised in items])


def _rows_of(pks: IntArray, keys: Sequence[int]) -> dict[int, int]:
    """Invoice key -> its row in a frame whose keys are ``pks`` (keys not in the frame are left out)."""
    if not len(pks) or not keys:
        return {}
    wanted = np.array(keys, dtype=np.int64)
    order = np.argsort(pks, kind="stable")
    rows = order[np.minimum(np.searchsorted(pks, wanted, sorter=order), len(pks) - 1)]
    found = pks[rows] == wanted
    return dict(zip(wanted[found].tolist(), rows[found].tolist(), strict=True))


def _customer_names(session: Session, tenant: Tenant, pks: list[int]) -> list[str]:
    """The customer id the model sees for each customer key, as ``scoring_history.tenant_history`` names them."""
    remote = dict(session.execute(select(Customer.id, Customer.remote_id)
                                  .where(Customer.tenant_id == tenant.id)).all())
    missing = [pk for pk in pks if pk >= 0 and pk not in remote]
    if missing:
        remote.update(session.execute(select(Customer.id, Customer.remote_id)
                                      .where(Customer.id.in_(missing))).all())
    return [remote.get(pk) or f"unknown-{pk if pk >= 0 else None}" for pk in pks]
