"""The dunning job holds the tenant's sync lock: it never decides on a mirror a sync or webhook is rewriting,
and a busy tenant defers the run instead of failing it. And the last look before sending reads the database
as it is now. Real database, real Redis, real SMTP server; the platform blocks a sync mid-way on demand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.domain.types import Allocation, NewPayment
from addon.mail import SmtpSender
from addon.models import DunningAction, Invoice
from addon.queueing import get_queue
from addon.services import tenant_lock
from addon.services.dunning import run_dunning
from connectors.fake import InMemoryConnector
from jobs import dunning as dunning_jobs
from jobs import sync as sync_jobs
from tests.addon.dunning.conftest import DUE, JOB_NOW, at, contact, invoice, ledger, mailer  # noqa: F401 - fixtures
from tests.addon.helpers import GatedConnector, in_thread
from tests.mail.conftest import smtp_server  # noqa: F401 - fixture

NOW = JOB_NOW


@pytest.fixture
def platform() -> GatedConnector:
    connector = GatedConnector(tenant_remote_id="org-dun")
    connector.entered.set()  # the backfill that mirrors the ledger for the test is not held
    connector.seed(contacts=[contact("C1", "Acme Ltd", "ap@acme.example"),
                             contact("C2", "Globex BV", "ar@globex.example")],
                   invoices=[invoice("I1", "C1"), invoice("I2", "C2", "250.00")])
    return connector


def test_a_busy_tenant_defers_the_dunning_run_and_sends_nothing(app, db, job_env, redis_conn, monkeypatch) -> None:
    env, sink = job_env
    monkeypatch.setitem(app.config, "TENANT_LOCK_WAIT", 0.2)
    with tenant_lock.hold(redis_conn, [env.tenant.id], wait=1):  # a sync of this tenant is running
        assert dunning_jobs.run_tenant(env.tenant.id) == {"deferred": 1}
    assert sink.arrived == []
    assert db.scalars(select(DunningAction)).all() == []
    scheduled = ScheduledJobRegistry(queue=get_queue("dunning", redis_conn)).get_job_ids()
    assert len(scheduled) == 1
    assert scheduled[0].startswith(f"dunning-{env.tenant.id}-at-")
    assert dunning_jobs.run_tenant(env.tenant.id)["sent"] == 2  # the deferred run, once the sync is done


def test_dunning_waits_for_a_sync_writing_a_payment_and_decides_on_its_result(app, db, job_env, monkeypatch) -> None:
    env, sink = job_env
    monkeypatch.setitem(app.config, "TENANT_LOCK_WAIT", 10)
    env.platform.entered.clear()  # hold the next sync inside its payments page
    env.platform.create_payment(NewPayment(contact_id="C1", date=date(2026, 11, 8), currency="GBP",
                                           allocations=(Allocation("I1", Decimal("100.00")),)),
                                idempotency_key="pay-1")
    sync, sync_result = in_thread(app, sync_jobs.backfill_tenant, env.tenant.id)
    assert env.platform.entered.wait(10)
    dunning, dunning_result = in_thread(app, dunning_jobs.run_tenant, env.tenant.id)
    dunning.join(0.5)
    assert dunning.is_alive()  # waiting for the sync's lock: not reading a half-written mirror
    assert sink.arrived == []
    env.platform.gate.set()
    sync.join(10)
    dunning.join(20)
    assert isinstance(sync_result[0], dict), sync_result
    assert sync_result[0]["payments"] == 1
    summary = dunning_result[0]
    assert isinstance(summary, dict), summary
    assert summary["sent"] == 1
    assert "stopped_now" not in summary  # planned on the synced mirror: I1 was never a candidate
    assert [m.rcpt_tos for m in sink.arrived] == [["ar@globex.example"]]


class _DisputedMeanwhile(InMemoryConnector):
    """While the run re-reads I1, a collector records a dispute on it (another request, its own transaction)."""

    engine: object = None

    def get_invoice(self, invoice_id: str):  # type: ignore[no-untyped-def]
        if invoice_id == "I1" and self.engine is not None:
            with Session(self.engine) as other:  # type: ignore[arg-type]
                row = other.scalar(select(Invoice).where(Invoice.remote_id == "I1"))
                row.disputed, row.disputed_on = True, date(2026, 11, 9)
                other.commit()
            self.engine = None
        return super().get_invoice(invoice_id)


def test_the_last_look_before_sending_sees_a_dispute_committed_during_the_run(
        app, db, ledger, mailer, smtp_server) -> None:  # noqa: F811
    platform = _DisputedMeanwhile(tenant_remote_id="org-dun")
    platform.seed(contacts=[contact("C1", "Acme Ltd", "ap@acme.example"),
                            contact("C2", "Globex BV", "ar@globex.example")],
                  invoices=[invoice("I1", "C1"), invoice("I2", "C2", "250.00")])
    platform.engine = app.extensions["cashline_db"].engine
    summary = run_dunning(db, ledger.tenant, platform, NOW, mailer)
    assert "ap@acme.example" not in [m.rcpt_tos[0] for m in smtp_server.sink.arrived]
    assert summary.get("sent", 0) == 1  # Globex only
    db.expire_all()
    assert db.scalar(select(DunningAction).where(DunningAction.exactly_once_key == "I1:overdue_7")) is None


def test_the_tenant_lock_is_free_while_a_reminder_is_sent(db, job_env, redis_conn, monkeypatch) -> None:
    """A slow mail server must not hold up the tenant's sync: the run decides and claims under the lock and
    sends without it."""
    env, sink = job_env
    free: list[bool] = []
    real = SmtpSender.send

    def send(self, message):  # type: ignore[no-untyped-def]
        try:  # a sync starting while the SMTP conversation goes on gets the tenant at once
            with tenant_lock.hold(redis_conn, [env.tenant.id], wait=0.1):
                free.append(True)
        except tenant_lock.TenantBusy:
            free.append(False)
        return real(self, message)

    monkeypatch.setattr(SmtpSender, "send", send)
    assert dunning_jobs.run_tenant(env.tenant.id)["sent"] == 2
    assert free == [True, True]
    assert len(sink.arrived) == 2


def test_a_sync_taking_the_tenant_between_two_reminders_defers_the_rest(app, db, job_env, redis_conn,
                                                                        monkeypatch) -> None:
    env, sink = job_env
    monkeypatch.setitem(app.config, "TENANT_LOCK_WAIT", 0.2)
    sync_lock = redis_conn.lock(tenant_lock.MIRROR.key(env.tenant.id), timeout=60, thread_local=False)
    real = SmtpSender.send

    def send(self, message):  # type: ignore[no-untyped-def]
        sync_lock.acquire(blocking=False)  # a sync starts during the first send and is still running after it
        return real(self, message)

    monkeypatch.setattr(SmtpSender, "send", send)
    summary = dunning_jobs.run_tenant(env.tenant.id)
    assert (summary["sent"], summary["deferred"]) == (1, 1)
    assert "busy" not in summary
    [first] = sink.arrived
    scheduled = ScheduledJobRegistry(queue=get_queue("dunning", redis_conn)).get_job_ids()
    assert [job_id.startswith(f"dunning-{env.tenant.id}-at-") for job_id in scheduled] == [True]
    sync_lock.release()
    monkeypatch.setattr(SmtpSender, "send", real)
    assert dunning_jobs.run_tenant(env.tenant.id)["sent"] == 1  # the deferred run sends the other one, once
    assert sorted(m.rcpt_tos[0] for m in sink.arrived) == ["ap@acme.example", "ar@globex.example"]
    assert first.rcpt_tos[0] in ("ap@acme.example", "ar@globex.example")
