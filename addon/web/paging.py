"""Which slice of a long list a page shows (``?page=N``) or a JSON API returns (``?limit=&offset=``, or a
cursor walk: ``?paging=cursor`` then ``?cursor=``): none renders thousands of rows at once, and none cuts a
list off without saying so.

A cursor is opaque to clients: a signed token (itsdangerous, with the app's SECRET_KEY) naming the list it
belongs to (endpoint and tenant) and where the walk stands. What "where" means is the endpoint's business:
the last row's stored sort key for a keyset walk, or a ranking snapshot and a position in it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, jsonify, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from redis.exceptions import RedisError

from addon.services.list_snapshots import SNAPSHOT_TTL, SnapshotExpiredError, SnapshotStateError

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class ApiCursor:
    """One page of a cursor walk: ``limit`` rows after ``state`` (None: the first page of a new walk)."""

    limit: int
    state: dict[str, Any] | None


CURSOR_SALT = "cashline-api-cursor"


def api_page(args: Mapping[str, str], default_limit: int, max_limit: int) -> ApiSlice | ApiCursor:
    """The page asked for: ``?cursor=`` (or ``?paging=cursor`` to start a walk) gives an ApiCursor, anything
    else the offset slice of :func:`api_slice`. A cursor names its list: the caller checks that with
    :func:`cursor_scope`, so a token from another endpoint or tenant is refused, never misread."""
    cursor, mode = args.get("cursor"), (args.get("paging") or "").strip()
    if cursor is None and mode in ("", "offset"):
        return api_slice(args, default_limit, max_limit)
    if mode not in ("", "cursor"):
        raise PagingError(f"paging must be 'cursor' or 'offset', not {mode!r}")
    if args.get("offset") not in (None, ""):
        raise PagingError("offset cannot be combined with a cursor: a cursor already says where the page starts")
    limit = api_slice({"limit": args.get("limit", "")}, default_limit, max_limit).limit
    if cursor is None:
        return ApiCursor(limit, None)
    return ApiCursor(limit, _decode(cursor))


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=CURSOR_SALT)


def _decode(token: str) -> dict[str, Any]:
    try:
        state = _serializer().loads(token.strip())
    except BadSignature:
        raise PagingError("cursor is not valid (altered, cut short, or signed by another server): "
                          "start again from the first page with ?paging=cursor") from None
    if not isinstance(state, dict) or not isinstance(state.get("list"), str):
        raise PagingError("cursor is not valid: start again from the first page with ?paging=cursor")
    return state


def cursor_scope(part: ApiCursor, scope: str) -> dict[str, Any] | None:
    """The walk's state without its list name, after checking the cursor belongs to ``scope``."""
    if part.state is None:
        return None
    if part.state["list"] != scope:
        raise PagingError("cursor belongs to another list (endpoint or tenant): "
                          "start again from the first page with ?paging=cursor")
    return {k: v for k, v in part.state.items() if k != "list"}


def cursor_json(rows: list[Any], total: int, part: ApiCursor, scope: str, state: dict[str, Any] | None) -> Response:
    """``rows`` as a bare JSON list, as :func:`paged_json`, with ``X-Total-Count`` (rows in the list now),
    ``X-Limit`` and an RFC 8288 ``Link`` to the ``next`` page carrying the signed cursor ``state`` (none:
    the walk is over). A walk has no ``prev``: it goes one way."""
    answer = jsonify(rows)
    answer.headers["X-Total-Count"] = str(total)
    answer.headers["X-Limit"] = str(part.limit)
    if state is not None:
        token = _serializer().dumps({"list": scope, **state})
        answer.headers["Link"] = f'<{_page_url(limit=part.limit, cursor=token)}>; rel="next"'
    return answer


Walk = Callable[[dict[str, Any] | None], tuple[list[Any], dict[str, Any] | None]]


def snapshot_json(part: ApiCursor, scope: str, total: int, walk: Walk) -> Any:
    """The answer to one page of a walk over a ranking snapshot (addon/services/list_snapshots.py):
    ``walk(state)`` gives the rows and the next state. A cursor that is not this list's, or whose snapshot
    has expired, is a 400 saying to start again; Redis not answering is a 503 (the rows are not lost:
    the same cursor works once it answers)."""
    try:
        rows, state = walk(cursor_scope(part, scope))
    except PagingError as exc:
        return jsonify({"error": str(exc)}), 400
    except SnapshotStateError:
        return jsonify({"error": "cursor is not valid for this list: start again from the first page with "
                                 "?paging=cursor"}), 400
    except SnapshotExpiredError:
        return jsonify({"error": f"cursor has expired (a walk is kept {SNAPSHOT_TTL // 60} minutes after its "
                                 "last page): start again from the first page with ?paging=cursor"}), 400
    except RedisError:
        logger.exception("cursor paging of %s: Redis did not answer", scope)
        return jsonify({"error": "cursor paging is unavailable right now (its store did not answer): "
                                 "retry the same URL later, or page with ?limit=&offset="}), 503
    return cursor_json(rows, total, part, scope, state)


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
    return _page_url(limit=limit, offset=offset)


def _page_url(**paging: Any) -> str:
    values: dict[str, Any] = {k: v for k, v in request.args.items()
                              if k not in ("limit", "offset", "cursor", "paging")}
    values.update(request.view_args or {}, **paging)
    return url_for(request.endpoint or "", **values)
