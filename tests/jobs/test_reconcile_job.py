from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from addon.domain.types import Contact, Invoice, InvoiceStatus
from addon.models import AuditLog, BankLine, Match
from addon.queueing import get_queue, run_burst
from addon.services import reconcile_posting
from addon.services.reconciliation import import_statement
from addon.services.sync import backfill
from connectors.errors import TransientError
from connectors.fake import InMemoryConnector
from jobs.reconcile import enqueue_reconcile, reconcile_statement
from jobs.runtime import set_app
from tests.addon.reconciliation.statements import Entry, camt053


@pytest.fixture
def statement(app, db, make_tenant, monkeypatch):  # type: ignore[no-untyped-def]
    platform = InMemoryConnector(tenant_remote_id="org-job")
    platform.seed(contacts=[Contact("c1", "Acme Trading Ltd", currency="GBP")],
                  invoices=[Invoice("i1", "INV-0001", "c1", "GBP", date(2026, 9, 1), date(2026, 10, 1),
                                    Decimal("1200.00"), Decimal("1200.00"), InvoiceStatus.OPEN),
                            Invoice("i2", "INV-0002", "c1", "GBP", date(2026, 9, 1), date(2026, 10, 9),
                                    Decimal("80.00"), Decimal("80.00"), InvoiceStatus.OPEN)])
    tenant = make_tenant(platform="fake", remote_id="org-job")
    backfill(db, tenant, platform, now=datetime(2026, 11, 1, tzinfo=UTC))
    data = camt053([Entry("1200.00", "Acme Trading Ltd", text="INV-0001"),
                    Entry("80.00", "Acme Trading Ltd", text="INV-0002")])
    statement_id = import_statement(db, tenant, data, "s.xml")["statement_id"]
    db.commit()
    monkeypatch.setitem(app.config, "CONNECTOR_FACTORY", lambda t: platform)
    set_app(app)
    return tenant.id, statement_id, platform


def test_crash_after_the_platform_call_never_posts_twice(db, statement, monkeypatch, redis_conn) -> None:
    tenant_id, statement_id, platform = statement
    real = reconcile_posting._record_posted
    calls = {"n": 0}

    def crash_once(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker killed after the platform accepted the payment")
        return real(*args, **kwargs)

    monkeypatch.setattr(reconcile_posting, "_record_posted", crash_once)
    with pytest.raises(RuntimeError):
        reconcile_statement(tenant_id, statement_id)
    assert len(platform.payments) == 1  # the platform has it; our transaction does not
    db.expire_all()
    assert db.scalars(select(Match.status).order_by(Match.id)).all() == ["proposed", "proposed"]

    summary = reconcile_statement(tenant_id, statement_id)  # RQ's retry
    assert (summary["posted"], summary["refused"]) == (2, 0)
    assert len(platform.payments) == 2  # one per line: the first was replayed, not duplicated
    assert sorted(p.amount for p in platform.payments.values()) == [Decimal("80.00"), Decimal("1200.00")]
    db.expire_all()
    first = db.scalars(select(Match).order_by(Match.id)).first()
    assert first.posted_payment_ids == ["pay-1"]
    assert db.scalars(select(BankLine.status)).all() == ["reconciled", "reconciled"]

    assert reconcile_statement(tenant_id, statement_id)["posted"] == 0
    assert len(platform.payments) == 2
    assert len(db.scalars(select(AuditLog).where(AuditLog.action == "payment.posted")).all()) == 2


def test_transient_platform_error_rolls_back_and_the_retry_posts(db, statement, redis_conn) -> None:
    tenant_id, statement_id, platform = statement
    platform.fail_next(TransientError("503 from the platform", status=503))
    with pytest.raises(TransientError):
        reconcile_statement(tenant_id, statement_id)
    assert platform.payments == {}
    db.expire_all()
    assert len(db.scalars(select(Match)).all()) == 2  # matching was committed before posting
    assert reconcile_statement(tenant_id, statement_id)["posted"] == 2
    assert len(platform.payments) == 2


def test_enqueued_job_runs_in_a_worker_once_per_statement(db, statement, redis_conn) -> None:
    tenant_id, statement_id, platform = statement
    assert enqueue_reconcile(redis_conn, tenant_id, statement_id) is not None
    assert enqueue_reconcile(redis_conn, tenant_id, statement_id) is None  # already queued
    queue = get_queue("reconcile", redis_conn)
    assert [j.id for j in queue.jobs] == [f"reconcile-{tenant_id}-{statement_id}"]
    run_burst(redis_conn, ["reconcile"])
    assert len(platform.payments) == 2
    db.expire_all()
    assert db.scalars(select(BankLine.status)).all() == ["reconciled", "reconciled"]
    actors = set(db.scalars(select(AuditLog.actor)))
    assert actors == {f"job:reconcile-{tenant_id}-{statement_id}"}
