"""The in-process burst worker used by the demo and the tests."""

from __future__ import annotations

import threading

from addon.queueing import BurstWorker, get_queue, run_burst


def test_burst_run_executes_every_queued_job_and_returns(redis_conn) -> None:
    queue = get_queue("default", redis_conn)
    jobs = [queue.enqueue("builtins.len", "abc") for _ in range(3)]
    assert run_burst(redis_conn, ["default"]) is True
    assert [job.get_status(refresh=True) for job in jobs] == ["finished"] * 3
    assert [job.return_value() for job in jobs] == [3, 3, 3]
    assert run_burst(redis_conn, ["default"]) is False  # nothing left


def test_burst_worker_opens_no_command_listener(redis_conn) -> None:
    """RQ's command listener is a thread blocked in a 60 s pub/sub read; closing it on the way out
    stalled a burst run for 60 s about one run in eight. A burst worker must not start one."""
    get_queue("default", redis_conn).enqueue("builtins.len", "abc")
    before = {t.ident for t in threading.enumerate()}
    worker = BurstWorker([get_queue("default", redis_conn)], connection=redis_conn)
    worker.work(burst=True, logging_level="WARNING")
    assert worker.pubsub_thread is None
    assert not [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]


def test_worker_command_with_burst_runs_the_queue_and_exits_without_a_listener(app, redis_conn,
                                                                                 monkeypatch) -> None:
    from addon.cli.ops import worker
    from addon.queueing import BurstHerokuWorker

    started: list[BurstHerokuWorker] = []
    original = BurstHerokuWorker.work

    def work(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        started.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BurstHerokuWorker, "work", work)
    job = get_queue("default", redis_conn).enqueue("builtins.len", "abcd")
    result = app.test_cli_runner().invoke(worker, ["default", "--burst"])
    assert result.exit_code == 0, result.output
    assert job.get_status(refresh=True) == "finished"
    assert job.return_value() == 4
    assert len(started) == 1
    assert started[0].pubsub_thread is None
