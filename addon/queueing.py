"""Enqueueing RQ jobs: JSON arguments only (ids and strings), deterministic ids for per-tenant work.

JSON serialisation enforces the rule that jobs receive ids, never ORM objects; a deterministic
``job_id`` with ``unique=True`` keeps one tenant from having two identical jobs queued at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from rq import Queue, Retry, SimpleWorker
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.worker import HerokuWorker

logger = logging.getLogger(__name__)

QUEUES = ("default", "sync", "scoring", "dunning", "reconcile")
# Typed transient failures are retried by the job itself; this covers a worker killed mid-job.
DEFAULT_RETRY = Retry(max=3, interval=[30, 120, 600])


def get_queue(name: str, connection: Redis) -> Queue:
    return Queue(name, connection=connection, serializer=JSONSerializer)


def enqueue(connection: Redis, queue_name: str, func_path: str, *args: int | str,
            job_id: str | None = None, retry: Retry | None = DEFAULT_RETRY,
            job_timeout: int = 1800, **kwargs: Any) -> Job | None:
    """Enqueue ``func_path(*args)``; with ``job_id`` only one such job can be waiting or running.

    Returns the job, or None when an identical job is already queued/running (that is not an error:
    the queued job will see the newest state when it runs).
    """
    queue = get_queue(queue_name, connection)

    def put() -> Job:
        return queue.enqueue(func_path, *args, job_id=job_id, unique=job_id is not None, retry=retry,
                             job_timeout=job_timeout, result_ttl=3600, failure_ttl=7 * 86400, **kwargs)

    try:
        return put()
    except DuplicateJobError:
        # A finished job keeps its id for result_ttl: it no longer stands for pending work.
        earlier = _job(connection, job_id) if job_id else None
        if job_id and (earlier is None or earlier.get_status() in _DONE):
            if earlier is not None:
                earlier.delete()
            return put()
        logger.info("job %s already queued; not enqueuing again", job_id)
        return None


def enqueue_in(connection: Redis, delay: float, queue_name: str, func_path: str, *args: int | str,
               job_id: str, retry: Retry | None = DEFAULT_RETRY, job_timeout: int = 1800) -> Job | None:
    """Schedule ``func_path(*args)`` to be queued ``delay`` seconds from now (the workers' RQ scheduler
    moves it to the queue then). Used by jobs that defer themselves (a busy tenant, a rate limit): the new
    job is a fresh one, with its RQ retries intact. Returns None when ``job_id`` is already pending."""
    queue = get_queue(queue_name, connection)
    job = queue.create_job(func_path, args=args, job_id=job_id, retry=retry, timeout=job_timeout,
                           result_ttl=3600, failure_ttl=7 * 86400)
    try:
        # RQ's own enqueue_in ignores unique=True; scheduling the job directly honours it.
        return queue.schedule_job(job, datetime.now(UTC) + timedelta(seconds=delay), unique=True)
    except DuplicateJobError:
        logger.info("job %s already scheduled; not scheduling again", job_id)
        return None


_DONE = (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.STOPPED)


def _job(connection: Redis, job_id: str) -> Job | None:
    try:
        return Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    except NoSuchJobError:
        return None


def enqueue_batch(connection: Redis, queue_name: str, func_path: str,
                  calls: list[tuple[tuple[int | str, ...], str]], *, retry: Retry | None = DEFAULT_RETRY,
                  job_timeout: int = 1800) -> int:
    """Enqueue ``func_path(*args)`` for each ``(args, job_id)`` in one Redis pipeline (dispatchers
    queueing many small jobs). Job ids are expected to be fresh; returns how many were queued."""
    if not calls:
        return 0
    queue = get_queue(queue_name, connection)
    queue.enqueue_many([
        Queue.prepare_data(func_path, args=args, job_id=job_id, retry=retry, timeout=job_timeout,
                           result_ttl=3600, failure_ttl=7 * 86400)
        for args, job_id in calls])
    return len(calls)


class WithoutCommandListener:
    """Worker mixin for runs that end when the queues are empty (``burst``): no RQ command listener.

    That listener is a pub/sub thread blocked in a 60 s read, and closing it on the way out stalled the
    caller for the full 60 s about one run in eight (measured with rq 2.12). A burst run has nobody to
    send it commands, so there is nothing to lose. Long-running workers keep the listener.
    """

    def subscribe(self) -> None:
        return None

    def unsubscribe(self) -> None:
        return None


class BurstWorker(WithoutCommandListener, SimpleWorker):
    """Runs what is queued in this process and returns (the demo, the tests)."""


class BurstHerokuWorker(WithoutCommandListener, HerokuWorker):
    """``cashline worker --burst``: forks per job like the long-running worker, then exits."""


def run_burst(connection: Redis, queue_names: Iterable[str], logging_level: str = "WARNING") -> bool:
    """Run every job queued on ``queue_names`` to completion in this process; True if any job ran."""
    worker = BurstWorker([get_queue(name, connection) for name in queue_names], connection=connection,
                         serializer=JSONSerializer)
    return worker.work(burst=True, logging_level=logging_level)
