"""Posting remembers that it started talking to the platform, so a retry can tell its own earlier
attempt from money someone recorded in the ERP by hand meanwhile."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, select

from addon.domain.types import Allocation, NewPayment
from addon.models import AuditLog, BankLine, Match
from addon.services.reconciliation import import_statement, reconcile
from tests.addon.reconciliation.conftest import NOW
from tests.addon.reconciliation.statements import Entry, camt053

PARTIAL = Entry("400.00", "Acme Trading Ltd", text="INV-1001 first instalment")


def _import(db, tenant) -> int:  # type: ignore[no-untyped-def]
    return import_statement(db, tenant, camt053([PARTIAL]), "s.xml")["statement_id"]  # type: ignore[no-any-return]


def _match(db) -> Match:  # type: ignore[no-untyped-def]
    return db.scalars(select(Match)).one()


def test_partial_payment_posts_once_with_its_attempt_recorded(db, tenant, platform) -> None:
    summary = reconcile(db, tenant, platform, _import(db, tenant), NOW, checkpoint=db.commit)
    assert (summary["auto"], summary["posted"]) == (1, 1)
    [(kind, payment)] = platform.writes
    assert (kind, payment.amount) == ("create_payment", Decimal("400.00"))
    assert platform.invoices["i1001"].amount_due == Decimal("800.00")
    match = _match(db)
    assert (match.status, match.attempt_key) == ("posted", f"match-{match.id}")
    assert match.attempt_started_at is not None


def test_partial_recorded_by_hand_in_the_erp_is_not_posted_again(db, tenant, platform) -> None:
    statement_id = _import(db, tenant)
    # The accountant records the same 400 in the ERP by hand before our job runs: the platform says
    # 800 due, which is exactly what our own crashed attempt would have left. We never called the
    # platform for this match, so it was someone else: do not post, ask a human.
    platform.create_payment(NewPayment("c1", date(2026, 11, 10), "GBP", (Allocation("i1001", Decimal("400.00")),),
                                       reference="by hand"), idempotency_key="accountant-1")
    summary = reconcile(db, tenant, platform, statement_id, NOW, checkpoint=db.commit)
    assert (summary["posted"], summary["refused"], summary["exceptions"]) == (0, 1, 1)
    assert len(platform.payments) == 1
    assert platform.invoices["i1001"].amount_due == Decimal("800.00")
    match = _match(db)
    assert (match.decision, match.status, match.attempt_key) == ("suggest", "proposed", None)
    assert ("INV-1001 amount due changed on the platform since matching (1200.00 to 800.00, by this line's "
            "400.00); already recorded there?") in match.explanation
    assert db.scalars(select(BankLine.status)).one() == "exception"
    assert db.scalars(select(AuditLog.action)).all() == ["match.refused"]


def test_worker_killed_after_the_platform_call_does_not_post_twice(db, tenant, platform, database_url,
                                                                    monkeypatch) -> None:
    statement_id = _import(db, tenant)
    db.commit()
    real = platform.create_payment
    seen: dict[str, object] = {}

    def accepted_then_killed(payment, *, idempotency_key, **kwargs):  # type: ignore[no-untyped-def]
        # The marker must already be durable (visible to another connection) when the platform is called.
        engine = create_engine(database_url)
        with engine.connect() as conn:
            seen["committed_key"] = conn.execute(select(Match.attempt_key)).scalar_one()
        engine.dispose()
        real(payment, idempotency_key=idempotency_key, **kwargs)
        raise RuntimeError("worker killed after the platform accepted the payment")

    monkeypatch.setattr(platform, "create_payment", accepted_then_killed)
    with pytest.raises(RuntimeError):
        reconcile(db, tenant, platform, statement_id, NOW, checkpoint=db.commit)
    db.rollback()  # the dead worker's transaction is gone; the committed marker stays
    match = _match(db)
    assert seen["committed_key"] == f"match-{match.id}" == match.attempt_key
    assert match.status == "proposed"
    assert platform.invoices["i1001"].amount_due == Decimal("800.00")

    monkeypatch.setattr(platform, "create_payment", real)
    summary = reconcile(db, tenant, platform, statement_id, NOW, checkpoint=db.commit)  # RQ's retry
    assert (summary["posted"], summary["refused"]) == (1, 0)
    assert len(platform.payments) == 1  # replayed under the same key, not posted again
    assert platform.invoices["i1001"].amount_due == Decimal("800.00")
    match = _match(db)
    assert (match.status, match.posted_payment_ids) == ("posted", list(platform.payments))
