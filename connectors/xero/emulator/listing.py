"""GET-collection semantics shared by every Accounting API list endpoint.

Cheap filters (If-Modified-Since, IDs, Statuses, ContactIDs) run on records before serialisation, so a
100k-invoice organisation answers a page without rendering every invoice; ``where`` runs on the wire
dicts because it can name any field.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from connectors.xero.emulator.where import compile_where, sort_records

R = TypeVar("R")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    pagination: dict[str, int] | None


def parse_if_modified_since(value: str | None) -> datetime | None:
    """RFC 1123 or ISO 8601 (naive = UTC); an unparseable value is ignored, as HTTP says it must be."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def id_list(value: str | None) -> set[str] | None:
    """``IDs=a,b`` -> {'a', 'b'} (lower-cased, as Xero ids are case-insensitive)."""
    if not value:
        return None
    return {part.strip().lower() for part in value.split(",") if part.strip()}


def select(records: Iterable[R], args: Mapping[str, str], if_modified_since: str | None, *, entity: str,
           serialise: Callable[[R], dict[str, Any]], updated: Callable[[R], datetime],
           record_filters: list[Callable[[R], bool]] | None = None,
           view: Callable[[R], dict[str, Any]] | None = None) -> Page:
    """Apply Xero's filters and paging to ``records`` and serialise what is returned."""
    since = parse_if_modified_since(if_modified_since)
    checks = list(record_filters or [])
    if since is not None:
        checks.append(lambda rec: updated(rec) >= since)
    chosen = [rec for rec in records if all(check(rec) for check in checks)]
    where = args.get("where")
    page_arg = args.get("page")
    if where:
        predicate = compile_where(where, entity)
        # Filter on the (cheaper) view, then serialise only the page that is returned.
        chosen = [rec for rec in chosen if predicate((view or serialise)(rec))]
    order = args.get("order")
    if order and order.strip():
        # Sorted before paging, so page 1 of "Total DESC" holds the largest totals of all.
        chosen = sort_records(chosen, order, entity, view or serialise)
    return _paged(chosen, page_arg, args.get("pageSize"), serialise)


def _paged(items: list[Any], page_arg: str | None, size_arg: str | None,
           serialise: Callable[[Any], dict[str, Any]]) -> Page:
    if page_arg is None:
        return Page([serialise(i) for i in items], None)
    page = max(1, _int(page_arg, 1))
    size = min(MAX_PAGE_SIZE, max(1, _int(size_arg, DEFAULT_PAGE_SIZE)))
    window = items[(page - 1) * size: page * size]
    return Page([serialise(i) for i in window],
                {"page": page, "pageSize": size, "pageCount": math.ceil(len(items) / size),
                 "itemCount": len(items)})


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
