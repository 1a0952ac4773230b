"""Which slice of a long list a page shows (``?page=N``) or a JSON API returns (``?limit=&offset=``):
neither renders thousands of rows at once, and neither cuts a list off without saying so."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Response, jsonify, request, url_for


@dataclass(frozen=True)
class Paging:
    """Page ``number`` (1-based) of ``total`` rows, ``size`` rows a page."""

    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def first_row(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last_row(self) -> int:
        return min(self.offset + self.size, self.total)


def paging(raw: str | None, size: int, total: int) -> Paging:
    """The page asked for in ``?page=``; anything odd (text, 0, beyond the last page) gives the nearest real page."""
    text = (raw or "").strip()
    asked = int(text) if text.isdecimal() and len(text) < 10 else 1
    last = max(1, -(-total // size))
    return Paging(min(max(asked, 1), last), size, total)


class PagingError(ValueError):
    """``?limit=`` or ``?offset=`` of a JSON list is not a whole number in range (the message says which)."""


@dataclass(frozen=True)
class ApiSlice:
    """Rows ``offset`` .. ``offset + limit`` of a JSON list."""

    limit: int
    offset: int


def api_slice(args: Mapping[str, str], default_limit: int, max_limit: int) -> ApiSlice:
    """The slice asked for in ``?limit=&offset=``. Absent: the first ``default_limit`` rows (what the API
    returned before it had paging). Unlike a page's ``?page=``, a script's odd value is refused, not
    guessed at: a caller that asked for 5,000 rows and silently got 1,000 would miss the rest."""
    limit = _whole(args.get("limit"), "limit", default_limit)
    offset = _whole(args.get("offset"), "offset", 0)
    if not 1 <= limit <= max_limit:
        raise PagingError(f"limit must be between 1 and {max_limit}, not {limit}")
    return ApiSlice(limit, offset)


def _whole(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if not (text.isascii() and text.isdecimal()) or len(text) > 9:
        raise PagingError(f"{name} must be a whole number of at most 9 digits, not {raw!r}")
    return int(text)


def paged_json(rows: list[Any], total: int, part: ApiSlice) -> Response:
    """``rows`` as a bare JSON list (as before paging), with the paging in headers: ``X-Total-Count``,
    ``X-Limit``, ``X-Offset`` and an RFC 8288 ``Link`` to the ``next`` and ``prev`` slices."""
    answer = jsonify(rows)
    answer.headers["X-Total-Count"] = str(total)
    answer.headers["X-Limit"] = str(part.limit)
    answer.headers["X-Offset"] = str(part.offset)
    links = []
    if part.offset + part.limit < total:
        links.append(f'<{_slice_url(part.limit, part.offset + part.limit)}>; rel="next"')
    if part.offset > 0:
        links.append(f'<{_slice_url(part.limit, max(0, min(part.offset, total) - part.limit))}>; rel="prev"')
    if links:
        answer.headers["Link"] = ", ".join(links)
    return answer


def _slice_url(limit: int, offset: int) -> str:
    values: dict[str, Any] = {k: v for k, v in request.args.items() if k not in ("limit", "offset")}
    values.update(request.view_args or {}, limit=limit, offset=offset)
    return url_for(request.endpoint or "", **values)
