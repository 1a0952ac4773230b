"""Nothing is lost: a Redis restart while webhooks arrive, and a worker killed in the middle of a job."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

import psutil
import pytest
import redis as redis_lib
import requests
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from addon.models import Invoice, WebhookEvent, WebhookStatus
from addon.queueing import get_queue
from addon.services import tenant_lock
from connectors.quickbooks.emulator.testing import start_qbo_emulator
from jobs import webhooks as webhook_jobs
from tests.e2e.conftest import submit_consent
from tests.e2e.test_qbo_install_sync import VERIFIER, qbo_token

pytestmark = pytest.mark.slow


@pytest.fixture
def installed(live_app, db, redis_conn):
    sandbox = start_qbo_emulator(seed=12, customers=6, invoices=80, today=date.today(),
                                 webhook_url=f"{live_app.url}/webhooks/qbo",
                                 verifier_token=VERIFIER, redirect_uris=(f"{live_app.url}/callback/qbo",),
                                 webhook_format="cloudevents")
    live_app.app.config.update(QBO_CLIENT_ID=sandbox.client_id, QBO_CLIENT_SECRET=sandbox.client_secret,
                               QBO_DISCOVERY_URL=sandbox.discovery_url, QBO_API_URL=sandbox.url,
                               QBO_WEBHOOK_VERIFIER_TOKEN=VERIFIER)
    browser = requests.Session()
    submit_consent(browser, browser.get(f"{live_app.url}/connect/qbo", timeout=30)).raise_for_status()
    live_app.work(redis_conn)  # backfill
    yield sandbox
    sandbox.stop()


def _pay_first_open(sandbox, db) -> Invoice:
    inv = db.query(Invoice).filter_by(status="open").order_by(Invoice.remote_id).first()
    remote = sandbox.store.get("Invoice", inv.remote_id)
    resp = sandbox.user_api(qbo_token(sandbox)).post("payment", {
        "CustomerRef": {"value": remote["CustomerRef"]["value"]}, "TotalAmt": str(inv.amount_due),
        "Line": [{"Amount": str(inv.amount_due), "LinkedTxn": [{"TxnId": inv.remote_id, "TxnType": "Invoice"}]}]})
    assert resp.status_code == 200, resp.text
    return inv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs a redis-server binary")
def test_webhooks_survive_a_redis_restart(live_app, installed, db, tmp_path) -> None:
    """The app's Redis goes down while a webhook arrives and comes back empty (no persistence)."""
    port = _free_port()
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
           "--dir", str(tmp_path)]
    private = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    own = redis_lib.Redis(port=port)
    _wait(lambda: own.ping())
    live_app.app.extensions["cashline_redis"] = own
    private.terminate()
    private.wait(10)  # Redis is down now

    inv = _pay_first_open(installed, db)
    installed.drain_webhooks()
    db.expire_all()
    event = db.query(WebhookEvent).one()
    assert event.status == WebhookStatus.RECEIVED.value  # stored and acknowledged, not queued

    private = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)  # Redis restarts, empty
    try:
        _wait(lambda: own.ping())
        with live_app.app.app_context():
            assert webhook_jobs.sweep_unqueued() == {"enqueued": 1}
        live_app.work(own)
        db.expire_all()
        assert db.get(WebhookEvent, event.id).status == WebhookStatus.PROCESSED.value
        assert db.get(Invoice, inv.id).status == "paid"
    finally:
        private.terminate()
        private.wait(10)


def test_a_worker_killed_mid_job_loses_nothing(live_app, installed, db, redis_conn, redis_url, app_config,
                                               tmp_path) -> None:
    inv = _pay_first_open(installed, db)
    installed.drain_webhooks()
    db.expire_all()
    event = db.query(WebhookEvent).one()
    assert event.status == WebhookStatus.RECEIVED.value  # stored; the dispatcher job is queued

    # Hold the tenant's API budget so the job blocks inside its first platform call.
    tenant_key = f"qbo:{installed.realm_id}"
    now_ms = int(time.time() * 1000)
    redis_conn.zadd(f"cashline:rl:{tenant_key}:min", {f"held-{n}": now_ms for n in range(500)})
    # The backfill's calls left the window key expiring a minute after them; a slow backfill (a busy
    # machine) would take the hold with it, so the hold keeps the key alive for the whole test.
    redis_conn.pexpire(f"cashline:rl:{tenant_key}:min", 600_000)
    config = live_app.app.config
    env = {**os.environ, "DATABASE_URL": config["DATABASE_URL"], "REDIS_URL": redis_url,
           "SECRET_KEY": config["SECRET_KEY"], "TOKEN_ENCRYPTION_KEY": config["TOKEN_ENCRYPTION_KEY"],
           "QBO_CLIENT_ID": config["QBO_CLIENT_ID"], "QBO_CLIENT_SECRET": config["QBO_CLIENT_SECRET"],
           "QBO_DISCOVERY_URL": config["QBO_DISCOVERY_URL"], "QBO_API_URL": config["QBO_API_URL"],
           "CASHLINE_ENV": "test", "LOG_LEVEL": "WARNING"}
    log = tmp_path / "worker.log"
    with log.open("w") as sink:
        worker = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "cashline"), "worker", "sync"],
                                  env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        registry = StartedJobRegistry("sync", connection=redis_conn, serializer=JSONSerializer)
        _wait(lambda: registry.get_job_ids(), timeout=60, explain=lambda: log.read_text()[-3000:])

        def attempt_recorded() -> bool:
            db.expire_all()
            return db.get(WebhookEvent, event.id).attempts == 1  # recorded before the work starts

        _wait(attempt_recorded, timeout=60)
        time.sleep(0.5)  # now blocked in the rate limiter, mid-job
    finally:
        _kill_tree(worker.pid)  # the whole worker dies: no cleanup, no graceful shutdown
        worker.wait(10)
    db.expire_all()
    assert db.get(WebhookEvent, event.id).status == WebhookStatus.QUEUED.value
    assert db.get(Invoice, inv.id).status == "open"

    # The dead worker still holds the tenant's sync lock, but only until it expires (it is never renewed).
    lock = tenant_lock.lock_key(inv.tenant_id)
    assert 0 < redis_conn.ttl(lock) <= tenant_lock.TTL
    # Later: the lock has expired, the budget is free again, and the sweeper notices the delivery never
    # finished.
    redis_conn.delete(lock, f"cashline:rl:{tenant_key}:min", f"cashline:rl:{tenant_key}:day",
                      f"cashline:rl:{tenant_key}:inflight")
    stuck = db.get(WebhookEvent, event.id)
    stuck.queued_at = datetime.now(UTC) - timedelta(minutes=11)
    db.commit()
    with live_app.app.app_context():
        assert webhook_jobs.sweep_unqueued() == {"enqueued": 1}
    get_queue("sync", redis_conn)
    live_app.work(redis_conn)
    db.expire_all()
    assert db.get(WebhookEvent, event.id).status == WebhookStatus.PROCESSED.value
    assert db.get(Invoice, inv.id).status == "paid"


def _kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and everything it forked. RQ runs the work horse in a session of its own, so
    killing only the worker (or its process group) would orphan the horse, still holding the job and the
    scheduler lock in Redis for the tests that follow."""
    try:
        worker = psutil.Process(pid)
        tree = [worker, *worker.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for member in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()


def _wait(check, timeout: float = 20.0, explain=lambda: "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except redis_lib.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting {explain()}")
