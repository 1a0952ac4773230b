"""One deposit paying several Xero invoices: posted as one batch payment, and when a later step of the
posting is refused after it, the match says exactly what is already in Xero and a retry never pays twice
(Xero emulator, official SDK, real HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from addon.models import AuditLog, BankLine, Match, Tenant
from addon.services.reconciliation import import_statement, reconcile
from addon.services.sync import backfill
from connectors.xero.emulator.errors import XeroValidationError
from tests.addon.reconciliation.statements import Entry, camt053
from tests.addon.reconciliation.test_end_to_end import OWNER, XeroLedger

NOW = datetime(2026, 11, 11, 7, 0, tzinfo=UTC)


@pytest.fixture
def xero() -> Iterator[XeroLedger]:
    ledger = XeroLedger()
    yield ledger
    ledger.stop()


def _post(db, make_tenant, xero: XeroLedger, amount: str) -> Match:  # type: ignore[no-untyped-def]
    tenant = make_tenant(platform="xero", remote_id=xero.remote_id, name="Combined Ltd")
    backfill(db, tenant, xero.connector, now=NOW)
    payer = xero.customers[OWNER["INV-7304"]][1]
    statement = camt053([Entry(amount, payer, text="INV-7304 INV-7305")])
    statement_id = import_statement(db, tenant, statement, "combined.xml")["statement_id"]
    reconcile(db, tenant, xero.connector, statement_id, NOW, checkpoint=db.commit)
    db.expire_all()
    return db.scalars(select(Match)).one()  # type: ignore[no-any-return]


def test_combined_remittance_is_one_batch_payment(db, make_tenant, xero) -> None:  # type: ignore[no-untyped-def]
    match = _post(db, make_tenant, xero, "675.00")
    assert match.status == "posted"
    [batch] = xero.sandbox.store.batch_payments.values()
    assert match.posted_payment_ids == [batch.id, *(p.id for p in batch.payments)]
    ids = xero.invoice_ids()
    assert sorted((p.invoice_id, p.amount) for p in batch.payments) == sorted(
        [(ids["INV-7304"], Decimal("400.00")), (ids["INV-7305"], Decimal("275.00"))])
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "payment.posted")).one()
    assert audit.after["payment_id"] == batch.id


def test_a_refused_overpayment_after_the_batch_says_what_is_in_xero(db, make_tenant, xero) -> None:  # type: ignore[no-untyped-def]
    # The customer sent 50.00 more than the two invoices; Xero takes the batch payment, then refuses the
    # overpayment (its contact was removed meanwhile). The invoices ARE paid: the match must not say
    # "nothing posted", and must keep its attempt so a retry replays the batch instead of paying twice.
    owner = xero.customers[OWNER["INV-7304"]][0]
    real_check = xero.sandbox.store.check_bank_transaction

    def contact_gone(contact_id, *args, **kwargs):  # type: ignore[no-untyped-def]
        if contact_id == owner:
            raise XeroValidationError("The contact could not be found.")
        return real_check(contact_id, *args, **kwargs)

    xero.sandbox.store.check_bank_transaction = contact_gone  # type: ignore[method-assign]
    match = _post(db, make_tenant, xero, "725.00")
    [batch] = xero.sandbox.store.batch_payments.values()
    assert (match.status, match.decision) == ("proposed", "suggest")
    assert match.attempt_key == f"match-{match.id}"  # kept: our payment is there
    assert f"already posted there: {batch.id}, {batch.payments[0].id}, {batch.payments[1].id}" in match.explanation
    assert "The contact could not be found." in match.explanation
    refused = db.scalars(select(AuditLog).where(AuditLog.action == "match.refused")).one()
    assert batch.id in refused.reason

    assert match.part_refusals == {"-overpayment": 1}

    # An admin confirms it again before fixing the cause: the batch is replayed under its key, never paid a
    # second time, and the overpayment (under a fresh key) is refused again.
    match.status = "confirmed"
    db.commit()
    tenant = db.get(Tenant, match.tenant_id)
    statement_id = db.get(BankLine, match.bank_line_id).statement_id
    reconcile(db, tenant, xero.connector, statement_id, NOW, checkpoint=db.commit)
    db.expire_all()
    match = db.get(Match, match.id)
    assert match.status == "proposed"
    assert match.explanation.count(f"already posted there: {batch.id}") == 2
    assert match.part_refusals == {"-overpayment": 2}

    # The admin restores the contact and confirms again: the batch replays once more, the overpayment is
    # sent under a key Xero has not refused, and the posting completes: each invoice paid once, 50.00 credit.
    xero.sandbox.store.check_bank_transaction = real_check  # type: ignore[method-assign]
    match.status = "confirmed"
    db.commit()
    reconcile(db, tenant, xero.connector, statement_id, NOW, checkpoint=db.commit)
    db.expire_all()
    match = db.get(Match, match.id)
    assert match.status == "posted", match.explanation
    assert len(xero.sandbox.store.batch_payments) == 1
    ids = xero.invoice_ids()
    for number, amount in (("INV-7304", "400.00"), ("INV-7305", "275.00")):
        assert [p.amount for p in xero.sandbox.store.payments.values() if p.invoice_id == ids[number]] == [
            Decimal(amount)]
    [overpayment] = xero.sandbox.store.overpayments.values()
    assert overpayment.total == Decimal("50.00")
    assert match.posted_payment_ids == [batch.id, *(p.id for p in batch.payments), overpayment.id]
    assert db.get(BankLine, match.bank_line_id).status == "reconciled"
    posted = db.scalars(select(AuditLog).where(AuditLog.action == "payment.posted")).one()
    assert posted.after["overpayment_id"] == overpayment.id

def test_after_a_refusal_is_fixed_the_retry_sends_a_fresh_key(db, make_tenant, xero) -> None:  # type: ignore[no-untyped-def]
    # Xero refuses the payment (the bank account configured for the tenant does not exist) and saves
    # nothing. The admin fixes the setting and confirms the line again: the retry must not send the refused
    # request's idempotency key, which the platform may answer by replaying the refusal.
    tenant = make_tenant(platform="xero", remote_id=xero.remote_id, name="Refused Ltd",
                         settings={"matching": {"bank_account_code": "999"}})
    backfill(db, tenant, xero.connector, now=NOW)
    seeded = set(xero.sandbox.store.payments)
    payer = xero.customers[OWNER["INV-7304"]][1]
    statement = camt053([Entry("400.00", payer, text="INV-7304")])
    statement_id = import_statement(db, tenant, statement, "refused.xml")["statement_id"]
    reconcile(db, tenant, xero.connector, statement_id, NOW, checkpoint=db.commit)
    db.expire_all()
    match = db.scalars(select(Match)).one()
    assert match.status == "proposed"
    assert "the platform refused it" in match.explanation
    assert match.attempt_key is None
    assert set(xero.sandbox.store.payments) == seeded

    tenant = db.get(Tenant, match.tenant_id)
    tenant.settings = {"matching": {}}
    match.status = "confirmed"
    db.commit()
    reconcile(db, tenant, xero.connector, statement_id, NOW, checkpoint=db.commit)
    db.expire_all()
    match = db.get(Match, match.id)
    assert match.status == "posted"
    assert match.attempt_key == f"match-{match.id}-retry1"
    [new] = set(xero.sandbox.store.payments) - seeded
    assert xero.sandbox.store.payments[new].amount == Decimal("400.00")
