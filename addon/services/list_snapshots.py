"""Cursor walks over lists ranked by values that change (a worklist priority computed in Python, a risk
score that re-scoring rewrites): the walk pages through a snapshot of the ranking, kept in Redis.

A keyset on such a ranking cannot keep its promise: a row whose score rose past the cursor between two
requests would be skipped, one that fell behind it would be served twice. So the first page stores the ids
in their ranking order (a Redis list, ``SNAPSHOT_TTL`` seconds after the last page asked for), and each page
reads on from a position in it:

- a row that left the list (paid, closed) is not served; one still in it is served exactly once, with its
  current values, at its place in the first page's ranking;
- rows that joined the list during the walk are added to the end of the snapshot when the walk reaches it
  (in their current order), so they are served once too;
- the order within a walk is the ranking when the walk began, not the ranking now.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.exceptions import WatchError

SNAPSHOT_TTL = 3600  # seconds a walk may pause between two pages before its cursor expires
_READ_AHEAD = 2  # snapshot ids read per round, in pages: rows that left the list are skipped without a re-read


class SnapshotExpiredError(LookupError):
    """The cursor's snapshot is gone (the walk paused longer than SNAPSHOT_TTL, or Redis lost it)."""


class SnapshotStateError(ValueError):
    """A walk state this module did not make."""


@dataclass(frozen=True)
class SnapshotPage:
    """The ids of one page, in order, and the state the next page starts from (None: the walk is over)."""

    ids: list[int]
    state: dict[str, Any] | None


def walk_snapshot(redis: Redis, state: dict[str, Any] | None, limit: int, ranked: Callable[[], Sequence[int]],
                  present: Callable[[Sequence[int]], set[int]]) -> SnapshotPage:
    """One page of a walk over ``ranked()`` (every id of the list now, in order); ``present(ids)`` says which
    of ``ids`` are still in the list. ``state`` is what the previous page returned (None: a new walk).

    Raises:
        SnapshotExpiredError: the walk's snapshot is gone.
        SnapshotStateError: ``state`` is not one this function made.
    """
    if state is None:
        return _start(redis, list(ranked()), limit)
    walk, position = _parse(state)
    key = _key(walk)
    if not redis.expire(key, SNAPSHOT_TTL):
        raise SnapshotExpiredError(walk)
    page: list[int] = []
    appended = False
    while len(page) < limit:
        chunk = [int(i) for i in redis.lrange(key, position, position + limit * _READ_AHEAD - 1)]
        if not chunk:
            if appended or not _append_joined(redis, key, position, ranked):
                break
            appended = True
            continue
        keep = present(chunk)
        for invoice_id in chunk:
            position += 1
            if invoice_id in keep:
                page.append(invoice_id)
                if len(page) == limit:
                    break
    more = position < redis.llen(key) or (not appended and _append_joined(redis, key, position, ranked))
    return SnapshotPage(page, {"walk": walk, "at": position} if more else None)


def _start(redis: Redis, ids: list[int], limit: int) -> SnapshotPage:
    if len(ids) <= limit:
        return SnapshotPage(ids, None)  # one page holds it all: nothing to remember
    walk = uuid.uuid4().hex
    with redis.pipeline() as pipe:
        pipe.rpush(_key(walk), *ids)
        pipe.expire(_key(walk), SNAPSHOT_TTL)
        pipe.execute()
    return SnapshotPage(ids[:limit], {"walk": walk, "at": limit})


def _append_joined(redis: Redis, key: str, length: int, ranked: Callable[[], Sequence[int]]) -> bool:
    """Add the ids that joined the list since the snapshot to its end; False when none did.

    Two requests carrying the same cursor may get here at once: the append happens only while the
    snapshot still has ``length`` ids (WATCH), so the late one re-reads what the first appended instead of
    adding the same ids a second time."""
    with redis.pipeline() as pipe:
        try:
            pipe.watch(key)  # type: ignore[no-untyped-call]
            if pipe.llen(key) != length:
                return True  # another request appended meanwhile: read on
            known = {int(i) for i in pipe.lrange(key, 0, -1)}
            joined = [i for i in ranked() if i not in known]
            if not joined:
                return False
            pipe.multi()
            pipe.rpush(key, *joined)
            pipe.expire(key, SNAPSHOT_TTL)
            pipe.execute()
        except WatchError:
            return True
    return True


def _parse(state: dict[str, Any]) -> tuple[str, int]:
    walk, position = state.get("walk"), state.get("at")
    if (set(state) != {"walk", "at"} or not isinstance(walk, str) or len(walk) != 32
            or any(c not in "0123456789abcdef" for c in walk) or type(position) is not int or position < 0):
        raise SnapshotStateError(state)
    return walk, position


def _key(walk: str) -> str:
    return f"cashline:list-walk:{walk}"
