"""One writer per tenant's mirror: syncs, backfills and webhook processing of one tenant never overlap.

Two threads run real jobs against the real database and Redis; the platform blocks the first one inside
its listing so the second is sure to arrive while the first holds the tenant's ledger half-replaced."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from rq.registry import ScheduledJobRegistry

from addon.domain.types import Allocation
from addon.domain.types import Payment as PlatformPayment
from addon.models import Payment, PaymentAllocation, WebhookEvent, WebhookStatus
from addon.queueing import get_queue
from addon.services.webhooks import store_delivery
from jobs import sync as sync_jobs
from jobs import webhooks as webhook_jobs
from jobs.runtime import set_app
from tests.addon.helpers import GatedConnector, contact, fake_delivery, in_thread, invoice


@pytest.fixture
def gated(app, make_tenant, db, redis_conn, monkeypatch):
    tenant = make_tenant(platform="fake", remote_id="org-5")
    db.commit()
    connector = GatedConnector(tenant_remote_id="org-5")
    connector.seed(contacts=[contact("C1")], invoices=[invoice("I1")],
                   payments=[PlatformPayment("P1", "C1", date(2026, 11, 2), Decimal("40.00"), "GBP",
                                             allocations=(Allocation("I1", Decimal("40.00")),))])
    monkeypatch.setitem(app.config, "CONNECTOR_FACTORY", lambda t: connector)
    set_app(app)
    return tenant, connector


def _allocations(db) -> list[tuple[str, Decimal]]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return [(a.invoice_remote_id, a.amount) for a in db.query(PaymentAllocation)]


def test_a_second_sync_defers_itself_while_a_backfill_holds_the_tenant(app, db, redis_conn, gated,
                                                                        monkeypatch) -> None:
    tenant, connector = gated
    monkeypatch.setitem(app.config, "TENANT_LOCK_WAIT", 0.2)
    first, first_result = in_thread(app, sync_jobs.backfill_tenant, tenant.id)
    assert connector.entered.wait(10)
    second, second_result = in_thread(app, sync_jobs.backfill_tenant, tenant.id)
    second.join(10)
    assert second_result == [{"deferred": 1}]
    scheduled = ScheduledJobRegistry(queue=get_queue("sync", redis_conn)).get_job_ids()
    assert len(scheduled) == 1
    assert scheduled[0].startswith(f"backfill-{tenant.id}-at-")
    connector.gate.set()
    first.join(10)
    assert first_result[0]["payments"] == 1  # type: ignore[index]
    assert sync_jobs.backfill_tenant(tenant.id)["payments"] == 1  # the deferred run, later
    assert _allocations(db) == [("I1", Decimal("40.00"))]
    assert db.query(Payment).count() == 1


def test_a_second_sync_waits_a_bounded_time_then_runs_after_the_first_committed(app, db, redis_conn, gated,
                                                                                monkeypatch) -> None:
    tenant, connector = gated
    monkeypatch.setitem(app.config, "TENANT_LOCK_WAIT", 10)
    first, first_result = in_thread(app, sync_jobs.backfill_tenant, tenant.id)
    assert connector.entered.wait(10)
    second, second_result = in_thread(app, sync_jobs.sync_tenant, tenant.id)
    second.join(0.5)
    assert second.is_alive()  # waiting for the lock, not writing
    connector.gate.set()
    first.join(10)
    second.join(10)
    assert first_result[0]["payments"] == 1  # type: ignore[index]
    assert isinstance(second_result[0], dict)
    assert "deferred" not in second_result[0]
    assert _allocations(db) == [("I1", Decimal("40.00"))]
    assert ScheduledJobRegistry(queue=get_queue("sync", redis_conn)).count == 0


def test_a_webhook_for_a_tenant_being_backfilled_is_deferred_without_using_an_attempt(
        app, db, redis_conn, gated, monkeypatch) -> None:
    tenant, connector = gated
    monkeypatch.setitem(app.config, "TENANT_LOCK_WAIT", 0.2)
    body, _ = fake_delivery("org-5", ("payment", "P1"))
    event_id = store_delivery(app.extensions["cashline_db"].engine, "fake", body, now=datetime.now(UTC))
    first, first_result = in_thread(app, sync_jobs.backfill_tenant, tenant.id)
    assert connector.entered.wait(10)
    assert webhook_jobs.process_event(event_id) == {"deferred": "tenant busy"}
    db.expire_all()
    event = db.get(WebhookEvent, event_id)
    assert (event.status, event.attempts) == (WebhookStatus.DEFERRED.value, 0)
    assert event.not_before is not None
    assert webhook_jobs.sweep_unqueued() == {"enqueued": 0}  # not before its time
    connector.gate.set()
    first.join(10)
    assert first_result[0]["payments"] == 1  # type: ignore[index]
    event.not_before = datetime.now(UTC)
    db.commit()
    assert webhook_jobs.sweep_unqueued() == {"enqueued": 1}
    assert webhook_jobs.process_event(event_id)["processed"] is True
    assert _allocations(db) == [("I1", Decimal("40.00"))]
