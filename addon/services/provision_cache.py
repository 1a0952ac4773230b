"""The write-off provision matrix of a tenant, cached in Redis for the tenant's day.

The matrix (``addon.domain.write_offs.provision_matrix``) is measured on the tenant's whole closed history:
for a million-invoice ledger, reading every paid, voided and deleted invoice as ORM rows and classifying it
cost seconds on every dashboard request. Its inputs barely move within a day (only invoices due at least
180 days ago count), so it is computed once per tenant per *tenant-local* day and reused.

Why Redis, not a table: Redis already holds the app's shared short-lived state (tenant locks, rate limits,
pending OAuth tokens), it is there whichever database the app runs on (SQLite for the demo, PostgreSQL),
an entry expires on its own, and a cache needs no migration. Redis unreachable is not an error here: the
matrix is computed fresh, as before the cache, and a warning is logged.

One key per tenant (``cashline:provision:v1:<tenant>``) holds the matrix with what it is valid for:

- ``day``: the tenant-local day it was measured on; another day recomputes (the 180-day maturity cutoff
  moves with the day);
- ``tenant``: the tenant's id and creation time, so a tenant id reused after a deletion (SQLite may reuse
  the highest rowid) never reads the previous tenant's figures;
- ``generation``: the tenant's invalidation counter (``cashline:provision-gen:<tenant>``) read *before* the
  history was read. ``invalidate`` increments it after a backfill has committed; a matrix measured from
  data read before that commit carries the older generation and is recomputed on the next request, even if
  it was stored after the increment. This relies on each read seeing what was committed before it started
  (PostgreSQL's default READ COMMITTED; SQLite through pysqlite reads outside an explicit transaction), not
  on a snapshot taken when the request's transaction began.

``v1`` is the format and rules version: bump it when ``provision_matrix``'s rules or this layout change, so
a release never serves a matrix measured under the old rules.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from redis import Redis
from redis.exceptions import RedisError

from addon.domain.write_offs import BUCKETS, BucketRate
from addon.models import Tenant

logger = logging.getLogger(__name__)

KEY_PREFIX = "cashline:provision:v1"
GENERATION_PREFIX = "cashline:provision-gen"
TTL = 2 * 86_400  # seconds: a tenant nobody looks at does not keep its entry


@dataclass(frozen=True, slots=True)
class Lookup:
    """What ``lookup`` found: the cached matrix (None: compute it) and the generation to store it under."""

    matrix: list[BucketRate] | None
    generation: int | None  # None: Redis could not be read, so nothing is stored either


def cache_key(tenant_id: int) -> str:
    return f"{KEY_PREFIX}:{tenant_id}"


def generation_key(tenant_id: int) -> str:
    return f"{GENERATION_PREFIX}:{tenant_id}"


def lookup(redis: Redis | None, tenant: Tenant, today: date) -> Lookup:
    """The tenant's matrix for ``today`` if cached and still valid. Call it *before* reading the history
    the matrix is measured on (see the module docstring: the generation read here must predate that read)."""
    if redis is None:
        return Lookup(None, None)
    try:
        raw, generation = redis.mget(cache_key(tenant.id), generation_key(tenant.id))
    except RedisError:
        logger.warning("provision cache unavailable for tenant %s: computing the matrix", tenant.id, exc_info=True)
        return Lookup(None, None)
    current = int(generation or 0)
    return Lookup(_valid(raw, tenant, today, current), current)


def store(redis: Redis | None, tenant: Tenant, today: date, found: Lookup, matrix: list[BucketRate]) -> None:
    """Cache ``matrix`` for the tenant's ``today`` under the generation ``lookup`` read (nothing if it could not)."""
    if redis is None or found.generation is None:
        return
    entry = {"day": today.isoformat(), "tenant": _identity(tenant), "generation": found.generation,
             "rows": [[r.bucket, str(r.rate), r.unpaid, r.written_off] for r in matrix]}
    try:
        redis.set(cache_key(tenant.id), json.dumps(entry), ex=TTL)
    except RedisError:
        logger.warning("provision cache not written for tenant %s", tenant.id, exc_info=True)


def invalidate(redis: Redis, tenant_id: int) -> None:
    """Make every cached matrix of the tenant stale. Call it after the change has been committed."""
    redis.incr(generation_key(tenant_id))  # no expiry: a counter per tenant, and it must outlive every entry


def _identity(tenant: Tenant) -> list[object]:
    return [tenant.id, tenant.created_at.isoformat() if tenant.created_at is not None else None]


def _valid(raw: bytes | str | None, tenant: Tenant, today: date, generation: int) -> list[BucketRate] | None:
    if raw is None:
        return None
    try:
        entry = json.loads(raw)
        if (entry["day"] != today.isoformat() or entry["tenant"] != _identity(tenant)
                or entry["generation"] != generation):
            return None
        matrix = [BucketRate(str(b), Decimal(rate), int(unpaid), int(lost)) for b, rate, unpaid, lost in entry["rows"]]
    except (ValueError, KeyError, TypeError, InvalidOperation):
        logger.warning("provision cache entry of tenant %s unreadable: recomputing", tenant.id)
        return None
    if [r.bucket for r in matrix] != [name for name, _ in BUCKETS]:
        return None
    return matrix
