"""Periodic work, declared in one table and enqueued by `cashline cron`.

rq's own CronScheduler enqueues with the pickle serializer; our workers use JSON (ids only), so this
small scheduler enqueues through ``addon.queueing.enqueue`` instead. Each entry's last run time is
kept in Redis with SET NX semantics, so several cron processes never enqueue the same slot twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from addon.queueing import enqueue


@dataclass(frozen=True)
class Periodic:
    name: str
    func_path: str  # called with no arguments; fan-out jobs enqueue per-tenant work themselves
    queue: str
    every_seconds: int


SCHEDULE: list[Periodic] = [
    Periodic("webhook-sweeper", "jobs.webhooks.sweep_unqueued", "default", 60),
    Periodic("sync-sweep", "jobs.sync.sweep_all", "sync", 15 * 60),
    Periodic("dunning-fan-out", "jobs.dunning.fan_out", "dunning", 60 * 60),  # hourly: local send hours differ
    Periodic("nightly-scoring", "jobs.scoring.nightly", "scoring", 24 * 3600),
]


def run_due(redis: Redis, now: float, schedule: list[Periodic] | None = None) -> list[str]:
    """Enqueue every entry whose slot (now // every) has not been claimed yet; return their names."""
    enqueued = []
    for entry in schedule if schedule is not None else SCHEDULE:
        slot = int(now // entry.every_seconds)
        claimed = redis.set(f"cashline:cron:{entry.name}:{slot}", "1", nx=True, ex=entry.every_seconds * 2)
        if claimed:
            enqueue(redis, entry.queue, entry.func_path, job_id=f"cron-{entry.name}-{slot}")
            enqueued.append(entry.name)
    return enqueued
