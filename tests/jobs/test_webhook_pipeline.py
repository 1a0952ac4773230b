"""Webhook ingest -> store -> enqueue -> process, on the real database and the real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from addon.models import Invoice, WebhookEvent, WebhookStatus
from addon.queueing import get_queue, run_burst
from addon.services.webhooks import dead_letters
from connectors.errors import TransientError
from connectors.fake import InMemoryConnector
from jobs import webhooks as webhook_jobs
from jobs.runtime import set_app
from tests.addon.helpers import FAKE_KEY, contact, fake_delivery, invoice


@pytest.fixture
def fake_platform(app, redis_conn, make_tenant, db, monkeypatch):
    tenant = make_tenant(platform="fake", remote_id="org-1")
    db.commit()
    connector = InMemoryConnector(tenant_remote_id="org-1")
    connector.seed(contacts=[contact()], invoices=[invoice()])
    monkeypatch.setitem(app.config, "FAKE_WEBHOOK_KEY", FAKE_KEY)
    monkeypatch.setitem(app.config, "CONNECTOR_FACTORY", lambda t: connector)
    set_app(app)
    return tenant, connector


def _post(client, body: bytes, signature: str):
    return client.post("/webhooks/fake", data=body, headers={"x-fake-signature": signature,
                                                              "Content-Type": "application/json"})


def _work(redis_conn) -> None:
    run_burst(redis_conn, ["sync"])


def test_bad_signature_is_401_with_no_body_and_nothing_stored(client, db, fake_platform) -> None:
    body, _ = fake_delivery("org-1", ("invoice", "I1"))
    resp = _post(client, body, "bm90LXRoZS1zaWduYXR1cmU=")
    assert resp.status_code == 401
    assert resp.data == b""
    assert db.query(WebhookEvent).count() == 0


def test_signed_but_malformed_payload_is_400(client, db, fake_platform) -> None:
    body, sig = b'{"events": [{"kind": "invoice"}', None
    import base64
    import hashlib
    import hmac

    sig = base64.b64encode(hmac.new(FAKE_KEY.encode(), body, hashlib.sha256).digest()).decode()
    assert _post(client, body, sig).status_code == 400
    assert db.query(WebhookEvent).count() == 0


def test_delivery_is_stored_dispatched_and_processed_by_a_worker(client, db, redis_conn, fake_platform) -> None:
    tenant, _connector = fake_platform
    body, sig = fake_delivery("org-1", ("invoice", "I1"))
    resp = _post(client, body, sig)
    assert resp.status_code == 200
    assert resp.data == b""
    event = db.query(WebhookEvent).one()
    assert event.status == WebhookStatus.RECEIVED.value
    assert get_queue("sync", redis_conn).job_ids == ["webhooks-dispatch"]

    _work(redis_conn)
    db.expire_all()
    assert db.get(WebhookEvent, event.id).status == WebhookStatus.PROCESSED.value
    mirrored = db.query(Invoice).one()
    assert (mirrored.tenant_id, mirrored.remote_id, str(mirrored.amount_due)) == (tenant.id, "I1", "100.00")
    assert mirrored.customer.name == "Acme Ltd"


def test_same_delivery_twice_is_stored_once(client, db, redis_conn, fake_platform) -> None:
    body, sig = fake_delivery("org-1", ("invoice", "I1"))
    assert _post(client, body, sig).status_code == 200
    assert _post(client, body, sig).status_code == 200
    assert db.query(WebhookEvent).count() == 1
    assert get_queue("sync", redis_conn).count == 1


def test_redis_down_at_receipt_loses_nothing(client, app, db, redis_conn, fake_platform, monkeypatch) -> None:
    from redis import Redis

    monkeypatch.setitem(app.extensions, "cashline_redis", Redis.from_url("redis://127.0.0.1:1/0"))
    body, sig = fake_delivery("org-1", ("invoice", "I1"))
    assert _post(client, body, sig).status_code == 200
    event = db.query(WebhookEvent).one()
    assert event.status == WebhookStatus.RECEIVED.value

    monkeypatch.setitem(app.extensions, "cashline_redis", redis_conn)  # Redis is back
    assert webhook_jobs.sweep_unqueued() == {"enqueued": 1}
    _work(redis_conn)
    db.expire_all()
    assert db.get(WebhookEvent, event.id).status == WebhookStatus.PROCESSED.value
    assert db.query(Invoice).count() == 1


def test_poison_event_is_dead_lettered_after_max_attempts(client, app, db, redis_conn, fake_platform,
                                                          monkeypatch) -> None:
    _, connector = fake_platform
    monkeypatch.setitem(app.config, "WEBHOOK_MAX_ATTEMPTS", 3)
    body, sig = fake_delivery("org-1", ("invoice", "I1"))
    _post(client, body, sig)
    event_id = db.query(WebhookEvent).one().id
    for attempt in range(1, 4):
        connector.fail_next(TransientError("platform exploded"))
        result = webhook_jobs.process_event(event_id)
        assert result == {"failed": True, "attempts": attempt}
    db.expire_all()
    event = db.get(WebhookEvent, event_id)
    assert event.status == WebhookStatus.DEAD.value
    assert "platform exploded" in event.error
    assert [e.id for e in dead_letters(db)] == [event_id]
    assert webhook_jobs.sweep_unqueued() == {"enqueued": 0}  # dead events are not retried blindly


def test_failed_event_is_retried_by_the_sweeper_and_then_succeeds(client, db, redis_conn, fake_platform) -> None:
    _, connector = fake_platform
    body, sig = fake_delivery("org-1", ("invoice", "I1"))
    _post(client, body, sig)
    connector.fail_next(TransientError("502 from platform"))
    _work(redis_conn)
    db.expire_all()
    assert db.query(WebhookEvent).one().status == WebhookStatus.FAILED.value
    assert webhook_jobs.sweep_unqueued() == {"enqueued": 1}
    _work(redis_conn)
    db.expire_all()
    assert db.query(WebhookEvent).one().status == WebhookStatus.PROCESSED.value


def test_stuck_queued_event_is_requeued(client, db, redis_conn, fake_platform) -> None:
    body, sig = fake_delivery("org-1", ("invoice", "I1"))
    _post(client, body, sig)
    assert webhook_jobs.dispatch() == {"enqueued": 1}
    redis_conn.flushdb()  # the job is gone (e.g. Redis restarted without persistence)
    assert webhook_jobs.sweep_unqueued() == {"enqueued": 0}  # not stuck yet
    event = db.query(WebhookEvent).one()
    event.queued_at = datetime.now(UTC) - timedelta(minutes=11)
    db.commit()
    assert webhook_jobs.sweep_unqueued() == {"enqueued": 1}
    _work(redis_conn)
    db.expire_all()
    assert db.query(WebhookEvent).one().status == WebhookStatus.PROCESSED.value


def test_voided_invoice_is_reflected(client, db, redis_conn, fake_platform) -> None:
    import dataclasses

    from addon.domain.types import InvoiceStatus

    _, connector = fake_platform
    body, sig = fake_delivery("org-1", ("invoice", "I1"))
    _post(client, body, sig)
    _work(redis_conn)
    connector.invoices["I1"] = dataclasses.replace(connector.invoices["I1"], status=InvoiceStatus.VOIDED)
    body2, sig2 = fake_delivery("org-1", ("invoice", "I1"), ("contact", "C1"))
    _post(client, body2, sig2)
    _work(redis_conn)
    db.expire_all()
    assert db.query(Invoice).one().status == "voided"


def test_a_burst_queues_one_dispatcher_which_queues_every_delivery(client, db, redis_conn, fake_platform) -> None:
    for n in range(5):
        body, sig = fake_delivery("org-1", ("invoice", f"I{n}"))
        assert _post(client, body, sig).status_code == 200
    queue = get_queue("sync", redis_conn)
    assert queue.job_ids == ["webhooks-dispatch"]  # one dispatcher for the whole burst

    assert webhook_jobs.dispatch() == {"enqueued": 5}
    ids = sorted(e.id for e in db.query(WebhookEvent))
    assert sorted(queue.job_ids) == sorted(["webhooks-dispatch"] + [f"webhook-{i}-0" for i in ids])
    db.expire_all()
    assert {e.status for e in db.query(WebhookEvent)} == {WebhookStatus.QUEUED.value}
    assert redis_conn.get(webhook_jobs.DISPATCH_FLAG) is None


def test_delivery_after_the_dispatcher_read_requests_another_run(client, db, redis_conn, fake_platform) -> None:
    body, sig = fake_delivery("org-1", ("invoice", "I1"))
    _post(client, body, sig)
    get_queue("sync", redis_conn).empty()  # the pending dispatcher job is now running...
    assert webhook_jobs.dispatch() == {"enqueued": 1}  # ...and has read the table
    body, sig = fake_delivery("org-1", ("invoice", "I2"))
    _post(client, body, sig)  # arrives after that read: it must not wait for the sweeper
    assert "webhooks-dispatch" in get_queue("sync", redis_conn).job_ids
    _work(redis_conn)
    db.expire_all()
    assert {e.status for e in db.query(WebhookEvent)} == {WebhookStatus.PROCESSED.value}
    assert db.query(Invoice).count() == 1  # I2 is unknown to the platform: re-read, nothing to mirror


def test_a_flag_left_by_a_lost_dispatcher_expires_and_the_sweeper_covers_it(client, db, redis_conn,
                                                                           fake_platform) -> None:
    body, sig = fake_delivery("org-1", ("invoice", "I1"))
    _post(client, body, sig)
    get_queue("sync", redis_conn).empty()  # the dispatcher job is lost, its flag is still set
    assert 0 < redis_conn.ttl(webhook_jobs.DISPATCH_FLAG) <= webhook_jobs.DISPATCH_FLAG_TTL
    assert webhook_jobs.sweep_unqueued() == {"enqueued": 1}
    _work(redis_conn)
    db.expire_all()
    assert db.query(WebhookEvent).one().status == WebhookStatus.PROCESSED.value


def test_ingest_survives_a_connection_the_database_dropped(app, client, db, redis_conn, fake_platform) -> None:
    from sqlalchemy import text

    engine = app.extensions["cashline_db"].ingest_engine
    if engine.dialect.name != "postgresql":
        pytest.skip("dropping a server-side connection needs PostgreSQL (the PostgreSQL pass runs this)")
    body, sig = fake_delivery("org-1", ("invoice", "I1"))
    assert _post(client, body, sig).status_code == 200
    with engine.connect() as conn:  # the pooled connection the next delivery will reuse
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    db.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    db.commit()
    body, sig = fake_delivery("org-1", ("invoice", "I2"))
    assert _post(client, body, sig).status_code == 200
    assert db.query(WebhookEvent).count() == 2


def test_ingest_answers_only_signed_posts_and_leaves_other_paths_to_flask(app, client, db, fake_platform,
                                                                          monkeypatch) -> None:
    body, sig = fake_delivery("org-1", ("invoice", "I1"))
    get = client.get("/webhooks/fake")
    assert (get.status_code, get.headers["Allow"], get.data) == (405, "POST", b"")
    assert client.post("/webhooks/nope", data=body).status_code == 404  # Flask's own 404
    assert client.get("/healthz").status_code == 200
    monkeypatch.setitem(app.config, "FAKE_WEBHOOK_KEY", "")  # the test platform is off in production
    assert _post(client, body, sig).status_code == 404
    assert db.query(WebhookEvent).count() == 0


def test_an_oversized_body_is_refused_unread(client, db, fake_platform) -> None:
    from addon.web.webhooks import MAX_BODY

    resp = _post(client, b"{" + b" " * MAX_BODY + b"}", "c2ln")
    assert (resp.status_code, resp.data) == (413, b"")
    assert db.query(WebhookEvent).count() == 0


def test_database_down_answers_500_so_the_platform_retries(app, client, db, redis_conn, fake_platform,
                                                           monkeypatch) -> None:
    from addon.extensions import make_engine

    dead = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", pool_pre_ping=False,
                       connect_args={"connect_timeout": 1})
    monkeypatch.setattr(app.extensions["cashline_db"], "ingest_engine", dead)
    body, sig = fake_delivery("org-1", ("invoice", "I1"))
    resp = _post(client, body, sig)
    assert (resp.status_code, resp.data) == (500, b"")
    assert get_queue("sync", redis_conn).count == 0  # nothing acknowledged, nothing dispatched
    monkeypatch.undo()
    monkeypatch.setitem(app.config, "FAKE_WEBHOOK_KEY", FAKE_KEY)
    assert _post(client, body, sig).status_code == 200  # the platform's retry lands
    assert db.query(WebhookEvent).count() == 1


def test_a_realm_whose_tokens_were_revoked_does_not_drop_the_others_in_the_delivery(
        client, app, db, redis_conn, make_tenant, fake_platform, monkeypatch) -> None:
    """One QBO CloudEvents POST can span several realms. A realm that disconnected on the platform's side
    (401 on use) is marked needs_reauth (its reconnect backfills it); the other realms' changes are applied
    and the delivery is done, instead of failing as a whole until it is dead-lettered."""
    from addon.models import Tenant, TenantStatus
    from connectors.errors import AuthError

    tenant, connector = fake_platform
    revoked = make_tenant(platform="fake", remote_id="org-2")
    db.commit()
    other = InMemoryConnector(tenant_remote_id="org-2")
    other.seed(contacts=[contact()], invoices=[invoice("I7")])
    other.fail_next(AuthError("401 Unauthorized: token revoked", status=401))
    connectors = {"org-1": connector, "org-2": other}
    monkeypatch.setitem(app.config, "CONNECTOR_FACTORY", lambda t: connectors[t.remote_id])
    # org-2 first, so its failure comes before org-1's changes are applied.
    body, sig = fake_delivery("org-2", ("invoice", "I7"))
    body = body.replace(b"]}", b', {"tenant": "org-1", "kind": "invoice", "id": "I1"}]}')
    import base64
    import hashlib
    import hmac

    sig = base64.b64encode(hmac.new(FAKE_KEY.encode(), body, hashlib.sha256).digest()).decode()
    assert _post(client, body, sig).status_code == 200

    _work(redis_conn)
    db.expire_all()
    assert db.query(WebhookEvent).one().status == WebhookStatus.PROCESSED.value
    assert [(i.tenant_id, i.remote_id) for i in db.query(Invoice)] == [(tenant.id, "I1")]
    assert db.get(Tenant, revoked.id).status is TenantStatus.NEEDS_REAUTH
    assert db.get(Tenant, tenant.id).status is TenantStatus.CONNECTED


class _WorkerKilled(BaseException):
    """Stands for the work-horse dying mid-job (OOM kill, RQ's job timeout): no except clause runs."""


def test_an_event_that_keeps_killing_its_worker_is_dead_lettered(client, app, db, redis_conn, fake_platform,
                                                                 monkeypatch) -> None:
    _, connector = fake_platform
    monkeypatch.setitem(app.config, "WEBHOOK_MAX_ATTEMPTS", 3)
    body, sig = fake_delivery("org-1", ("invoice", "I1"))
    _post(client, body, sig)
    event_id = db.query(WebhookEvent).one().id
    for _ in range(3):
        connector.fail_next(_WorkerKilled())  # type: ignore[arg-type]
        with pytest.raises(_WorkerKilled):
            webhook_jobs.process_event(event_id)
    # RQ's retry, or the sweeper once the event looks stuck, runs it again: it must stop here.
    connector.fail_next(_WorkerKilled())  # type: ignore[arg-type]
    assert webhook_jobs.process_event(event_id) == {"dead": True, "attempts": 3}
    db.expire_all()
    event = db.get(WebhookEvent, event_id)
    assert event.status == WebhookStatus.DEAD.value
    assert "3 attempts" in event.error
    event.queued_at = datetime.now(UTC) - timedelta(hours=1)
    db.commit()
    assert webhook_jobs.sweep_unqueued() == {"enqueued": 0}


def test_cli_retry_of_a_dead_event_queues_it_once(client, app, db, redis_conn, fake_platform, monkeypatch) -> None:
    """`cashline webhooks retry` re-queues a dead event: the sweeper must not take it for a stuck one (its
    last queued_at is old) and queue a second job that processes it concurrently."""
    from addon.cli.webhooks import group

    _, connector = fake_platform
    monkeypatch.setitem(app.config, "WEBHOOK_MAX_ATTEMPTS", 1)
    body, sig = fake_delivery("org-1", ("invoice", "I1"))
    _post(client, body, sig)
    assert webhook_jobs.dispatch() == {"enqueued": 1}
    get_queue("sync", redis_conn).empty()
    event_id = db.query(WebhookEvent).one().id
    connector.fail_next(TransientError("platform exploded"))
    assert webhook_jobs.process_event(event_id) == {"failed": True, "attempts": 1}
    db.expire_all()
    event = db.get(WebhookEvent, event_id)
    assert event.status == WebhookStatus.DEAD.value
    event.queued_at = datetime.now(UTC) - timedelta(days=1)  # dead-lettered yesterday
    db.commit()

    result = app.test_cli_runner().invoke(group, ["retry", str(event_id)])
    assert result.exit_code == 0, result.output
    assert get_queue("sync", redis_conn).count == 1
    assert webhook_jobs.sweep_unqueued() == {"enqueued": 0}
    _work(redis_conn)
    db.expire_all()
    assert db.get(WebhookEvent, event_id).status == WebhookStatus.PROCESSED.value


def test_a_long_rate_limit_reschedules_the_event_without_using_attempts(client, app, db, redis_conn,
                                                                        fake_platform, monkeypatch) -> None:
    """Xero's daily limit answers Retry-After in hours: the event waits that long, never dead-letters for it,
    and the sweeper (every minute) leaves it alone until then."""
    from connectors.errors import RateLimitedError

    _, connector = fake_platform
    monkeypatch.setitem(app.config, "WEBHOOK_MAX_ATTEMPTS", 2)
    body, sig = fake_delivery("org-1", ("invoice", "I1"))
    _post(client, body, sig)
    event_id = db.query(WebhookEvent).one().id
    for _ in range(3):  # more rate limits than allowed attempts
        connector.fail_next(RateLimitedError("daily limit", retry_after=3 * 3600, problem="day"))
        before = datetime.now(UTC)
        assert webhook_jobs.process_event(event_id) == {"deferred": "rate limited"}
        db.expire_all()
        event = db.get(WebhookEvent, event_id)
        assert (event.status, event.attempts) == (WebhookStatus.DEFERRED.value, 0)
        assert before + timedelta(hours=3) <= event.not_before <= datetime.now(UTC) + timedelta(hours=3)
        assert "daily limit" in event.error
        assert webhook_jobs.sweep_unqueued() == {"enqueued": 0}
    event.not_before = datetime.now(UTC) - timedelta(seconds=1)  # three hours later
    db.commit()
    assert webhook_jobs.sweep_unqueued() == {"enqueued": 1}
    _work(redis_conn)
    db.expire_all()
    event = db.get(WebhookEvent, event_id)
    assert (event.status, event.attempts, event.error) == (WebhookStatus.PROCESSED.value, 1, None)
    assert db.query(Invoice).count() == 1
