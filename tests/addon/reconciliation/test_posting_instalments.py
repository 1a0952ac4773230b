"""Two lines of one statement paying the same invoice the same partial amount: both are posted (the
second finds the invoice reduced by our own first posting, not by a hand-recorded payment), while money
recorded by hand in the ERP meanwhile is still never posted a second time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from addon.domain.types import Allocation, NewPayment
from addon.models import BankLine, Match
from addon.services.reconciliation import import_statement, reconcile
from addon.services.sync import backfill
from tests.addon.reconciliation.conftest import NOW
from tests.addon.reconciliation.statements import Entry, camt053
from tests.addon.reconciliation.test_end_to_end import OWNER, QboLedger, XeroLedger

D = Decimal


def _instalments(payer: str, number: str, amount: str) -> bytes:
    return camt053([Entry(amount, payer, text=f"{number} instalment 1 of 2"),
                    Entry(amount, payer, text=f"{number} instalment 2 of 2")])


def _matches(db) -> list[Match]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(Match).order_by(Match.id)))


def test_two_equal_instalments_in_one_statement_both_post(db, tenant, platform) -> None:
    statement_id = import_statement(db, tenant, _instalments("Acme Trading Ltd", "INV-1001", "600.00"),
                                    "s.xml")["statement_id"]
    summary = reconcile(db, tenant, platform, statement_id, NOW, checkpoint=db.commit)
    assert (summary["auto"], summary["posted"], summary["refused"]) == (2, 2, 0), summary
    assert [p.amount for p in platform.payments.values()] == [D("600.00"), D("600.00")]
    assert platform.invoices["i1001"].amount_due == 0
    assert [m.status for m in _matches(db)] == ["posted", "posted"]
    assert db.scalars(select(BankLine.status)).all() == ["reconciled", "reconciled"]
    assert summary == {**summary, "exceptions": 0}

    again = reconcile(db, tenant, platform, statement_id, NOW, checkpoint=db.commit)  # a retry posts nothing
    assert (again["posted"], len(platform.payments)) == (0, 2)


def test_hand_recorded_payment_between_our_instalments_is_not_posted_twice(db, tenant, platform,
                                                                          monkeypatch) -> None:
    statement_id = import_statement(db, tenant, _instalments("Acme Trading Ltd", "INV-1001", "400.00"),
                                    "s.xml")["statement_id"]
    real = platform.create_payment

    def then_by_hand(payment, *, idempotency_key, **kwargs):  # type: ignore[no-untyped-def]
        # Right after our first instalment, the accountant records the second one in the ERP by hand.
        created = real(payment, idempotency_key=idempotency_key, **kwargs)
        monkeypatch.setattr(platform, "create_payment", real)
        real(NewPayment("c1", date(2026, 11, 10), "GBP", (Allocation("i1001", D("400.00")),), reference="by hand"),
             idempotency_key="accountant-1")
        return created

    monkeypatch.setattr(platform, "create_payment", then_by_hand)
    summary = reconcile(db, tenant, platform, statement_id, NOW, checkpoint=db.commit)
    assert (summary["posted"], summary["refused"], summary["exceptions"]) == (1, 1, 1), summary
    assert len(platform.payments) == 2  # ours and the accountant's; the second instalment not again
    assert platform.invoices["i1001"].amount_due == D("400.00")
    first, second = _matches(db)
    assert (first.status, second.status, second.decision) == ("posted", "proposed", "suggest")
    assert ("INV-1001 amount due changed on the platform since matching (800.00 to 400.00, by this line's "
            "400.00); already recorded there?") in second.explanation


@pytest.fixture(params=[XeroLedger, QboLedger], ids=["xero", "qbo"])
def ledger(request: pytest.FixtureRequest) -> Iterator[Any]:
    emulated = request.param()
    yield emulated
    emulated.stop()


def test_two_equal_instalments_post_on_the_emulated_platforms(db, make_tenant, ledger) -> None:
    tenant = make_tenant(platform=ledger.platform, remote_id=ledger.remote_id, name="Emulated Ltd")
    backfill(db, tenant, ledger.connector, now=datetime(2026, 11, 1, tzinfo=UTC))
    payer = ledger.customers[OWNER["INV-7306"]][1]
    statement_id = import_statement(db, tenant, _instalments(payer, "INV-7306", "500.00"),
                                    "s.xml")["statement_id"]
    db.commit()
    summary = reconcile(db, tenant, ledger.connector, statement_id, NOW, checkpoint=db.commit)
    assert (summary["posted"], summary["refused"]) == (2, 0), summary
    invoice_id = ledger.invoice_ids()["INV-7306"]
    assert ledger.payments()[invoice_id] == [D("500.00"), D("500.00")]
    assert ledger.connector.get_invoice(invoice_id).amount_due == 0
    assert [m.status for m in _matches(db)] == ["posted", "posted"]
