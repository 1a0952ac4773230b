"""One writer per tenant at a time: Redis locks held by syncs, backfills and webhook processing (the mirror
lock), and by model training and activation (the model lock).

Two jobs re-reading the same tenant at once (``sync-<id>`` and ``backfill-<id>`` on two workers, or a
webhook during a backfill) would both replace the same payment's allocations (duplicates on PostgreSQL)
or both insert a new invoice (a unique-constraint clash). The lock is in Redis, not the database, so it
behaves the same on SQLite (the demo) and PostgreSQL, and it covers the whole job up to its commit.

The lock expires on its own (``TTL``) so a killed worker cannot hold a tenant for ever; while the holder
runs, a keeper thread extends it, so a backfill that takes longer than the TTL (Xero's 60 calls a minute:
several minutes for a large ledger) keeps it.

The two locks are separate names on purpose: a retrain can take minutes and reads the mirror without
writing it, so it must not hold up the next sync; and a sync must not make a hand activation wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import LockError
from redis.lock import Lock

logger = logging.getLogger(__name__)

TTL = 60  # seconds the lock outlives a holder that died; renewed every TTL/3 while the holder runs


class TenantBusy(Exception):
    """Another job holds the tenant's lock: the caller defers its work instead of failing it."""


@dataclass(frozen=True, slots=True)
class LockKind:
    """Which of a tenant's locks: its Redis key prefix and what a holder is doing (for TenantBusy)."""

    prefix: str
    doing: str

    def key(self, tenant_id: int) -> str:
        return f"{self.prefix}:{tenant_id}"


# The mirror: syncs, backfills and webhook processing replace ledger rows.
MIRROR = LockKind("cashline:tenant-sync", "being synced")
# The model registry: the scoring job (it may retrain), `cashline model train-tenant` / `activate-tenant` /
# `score-tenant` change which model version is active.
MODEL = LockKind("cashline:tenant-model", "having its risk model trained, activated or scored")
# The MODEL lock "tenant" of the shared pooled model (``tenant_id`` NULL): no tenant has id 0 (ids start at 1
# on PostgreSQL and SQLite), so `cashline model activate-prior` takes ``cashline:tenant-model:0``.
POOLED = 0


class Lease:
    """The locks held for one job. ``lost`` turns true if a renewal failed (the holder stalled past the TTL
    and someone else may have taken the tenant): the job must not commit then."""

    def __init__(self, locks: list[Lock]) -> None:
        self.locks = locks
        self.lost = False

    def check(self) -> None:
        """Call just before committing: writing after the lock was lost is the overlap the lock prevents."""
        if self.lost:
            raise LockError("tenant lock lost during the job (stalled past its TTL); not committing")

    def _renew(self, stop: threading.Event, every: float) -> None:
        while not stop.wait(every):
            for lock in self.locks:
                try:
                    lock.reacquire()
                except LockError:
                    self.lost = True
                    logger.exception("tenant lock %s could not be renewed", lock.name)


def lock_key(tenant_id: int) -> str:
    return MIRROR.key(tenant_id)


@contextmanager
def hold(redis: Redis, tenant_ids: Iterable[int], *, wait: float, ttl: int = TTL,
         kind: LockKind = MIRROR) -> Iterator[Lease]:
    """Hold every tenant's ``kind`` lock for the block, waiting at most ``wait`` seconds in all; raises
    TenantBusy.

    Locks are taken in id order, so two jobs for overlapping sets of tenants (a multi-realm QBO delivery)
    cannot each hold one the other waits for."""
    deadline = time.monotonic() + wait
    lease = Lease([])
    try:
        for tenant_id in sorted(set(tenant_ids)):
            # thread_local=False: the keeper thread renews with the token the job's thread acquired.
            lock = redis.lock(kind.key(tenant_id), timeout=ttl, thread_local=False)
            if not lock.acquire(blocking_timeout=max(deadline - time.monotonic(), 0.01)):
                raise TenantBusy(f"tenant {tenant_id} is {kind.doing} by another job")
            lease.locks.append(lock)
        stop = threading.Event()
        keeper = threading.Thread(target=lease._renew, args=(stop, ttl / 3), daemon=True, name="tenant-lock")
        keeper.start()
        try:
            yield lease
        finally:
            stop.set()
            keeper.join()
    finally:
        for lock in lease.locks:
            try:
                lock.release()
            except LockError:  # expired meanwhile: nothing left to release
                logger.warning("tenant lock %s had expired before release", lock.name)
