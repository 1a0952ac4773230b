from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from sqlalchemy import select

from addon.domain.types import InvoiceStatus
from addon.models import AuditLog, BankLine, Invoice, Match, PayerAlias
from addon.services.reconciliation import (
    QueueActionError,
    change_match,
    confirm_suggestion,
    exception_queue,
    import_statement,
    matching_config,
    post_confirmed,
    reconcile,
    reject_match,
)
from connectors.errors import ValidationError
from tests.addon.reconciliation.conftest import ACME_IBAN, NOW
from tests.addon.reconciliation.statements import Entry, camt053


def _run(db, tenant, platform, entries, statement_id="S1"):  # type: ignore[no-untyped-def]
    imported = import_statement(db, tenant, camt053(entries, statement_id=statement_id), f"{statement_id}.xml")
    return imported["statement_id"], reconcile(db, tenant, platform, imported["statement_id"], NOW)


def _line(db, amount: str) -> BankLine:  # type: ignore[no-untyped-def]
    return db.scalars(select(BankLine).where(BankLine.amount == Decimal(amount))).one()


def _match(db, amount: str) -> Match:  # type: ignore[no-untyped-def]
    return db.scalars(select(Match).where(Match.bank_line_id == _line(db, amount).id)).one()


def test_exact_reference_is_posted_once_with_audit(db, tenant, platform) -> None:
    statement_id, summary = _run(db, tenant, platform, [Entry("1200.00", "Acme Trading Ltd", text="INV-1001"),
                                                        Entry("42.42", "Someone Else", text="birthday")])
    assert summary["auto"] == 1
    assert summary["posted"] == 1
    assert summary["refused"] == 0
    assert summary["reconciled"] == 1
    [(kind, payment)] = platform.writes
    assert kind == "create_payment"
    assert [(a.invoice_id, a.amount) for a in payment.allocations] == [("i1001", Decimal("1200.00"))]
    assert payment.contact_id == "c1"
    assert platform.invoices["i1001"].status is InvoiceStatus.PAID
    match = _match(db, "1200.00")
    assert (match.status, match.posted_payment_ids) == ("posted", [payment.remote_id])
    assert _line(db, "1200.00").status == "reconciled"
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "payment.posted")).one()
    assert audit.after["payment_id"] == payment.remote_id
    assert audit.object_id == str(_line(db, "1200.00").id)
    # the mirror follows until the next sync brings the platform's own figures
    assert db.scalars(select(Invoice).where(Invoice.remote_id == "i1001")).one().amount_due == 0
    assert _line(db, "42.42").status == "exception"
    assert _match(db, "42.42").decision == "none"

    again = reconcile(db, tenant, platform, statement_id, NOW)
    assert (again["matched"], again["posted"]) == (0, 0)
    assert len(platform.writes) == 1


def test_invoice_changed_on_the_platform_is_sent_back_to_the_queue(db, tenant, platform) -> None:
    # Someone settled INV-1002 in the ERP after our last sync: the mirror still says 300 due.
    platform.invoices["i1002"] = dataclasses.replace(platform.invoices["i1002"], amount_due=Decimal("100.00"))
    _, summary = _run(db, tenant, platform, [Entry("300.00", "Acme Trading Ltd", text="INV-1002")])
    assert (summary["auto"], summary["posted"], summary["refused"]) == (1, 0, 1)
    assert platform.writes == []
    match = _match(db, "300.00")
    assert (match.decision, match.status) == ("suggest", "proposed")
    assert "amount due changed from 300.00 to 100.00" in match.explanation
    assert _line(db, "300.00").status == "exception"
    assert db.scalars(select(AuditLog.action)).all() == ["match.refused"]


def test_deduction_posts_payment_and_credit_note(db, tenant, platform) -> None:
    _, summary = _run(db, tenant, platform,
                      [Entry("1140.00", "Acme Trading Ltd", ACME_IBAN, "INV-1001 less 5% damaged goods")])
    match = _match(db, "1140.00")
    assert match.residual == "deduction", match.explanation
    assert summary["posted"] == 1
    kinds = [kind for kind, _ in platform.writes]
    assert kinds == ["create_payment", "create_credit_note"]
    credit = platform.writes[1][1]
    assert credit.total == Decimal("60.00")
    assert platform.invoices["i1001"].status is InvoiceStatus.PAID
    assert len(match.posted_payment_ids) == 2
    assert "credit_note.posted" in db.scalars(select(AuditLog.action)).all()


def test_a_refused_credit_note_is_retried_under_a_fresh_key_after_the_payment(db, tenant, platform,
                                                                             monkeypatch) -> None:
    # The payment is saved, its deduction credit note refused; a platform that replays a refusal for the same
    # key (as the Xero emulator does) would refuse every retry, so the retry sends the credit note alone under
    # a fresh key and replays the payment under its own.
    real, keys = platform.create_credit_note, []

    def replays_refusals(credit, *, idempotency_key):  # type: ignore[no-untyped-def]
        keys.append(idempotency_key)
        if idempotency_key.endswith("-credit"):
            raise ValidationError("Account code '4000' is archived")
        return real(credit, idempotency_key=idempotency_key)

    monkeypatch.setattr(platform, "create_credit_note", replays_refusals)
    statement_id, summary = _run(db, tenant, platform,
                                 [Entry("1140.00", "Acme Trading Ltd", ACME_IBAN, "INV-1001 less 5% damaged goods")])
    match = _match(db, "1140.00")
    assert (summary["posted"], match.status, match.part_refusals) == (0, "proposed", {"-credit": 1})
    assert "already posted there: pay-" in match.explanation
    match.status = "confirmed"
    assert reconcile(db, tenant, platform, statement_id, NOW)["posted"] == 1
    assert keys == [f"match-{match.id}-credit", f"match-{match.id}-credit-retry1"]
    assert [kind for kind, _ in platform.writes] == ["create_payment", "create_credit_note"]  # paid once
    assert match.status == "posted"


def test_confirming_a_suggestion_posts_it_and_learns_the_payer(db, tenant, platform) -> None:
    # A payer nobody knows, no reference: the amount alone only suggests.
    _, summary = _run(db, tenant, platform, [Entry("999.00", "JS HOLDINGS", "GB99BARC20000012345678")])
    assert (summary["suggest"], summary["posted"]) == (1, 0)
    line = _line(db, "999.00")
    [entry] = exception_queue(db, tenant)
    assert entry["line"].id == line.id
    assert entry["suggestions"][0]["allocations"][0]["number"] == "INV-2001"
    assert entry["match"].explanation

    match = confirm_suggestion(db, tenant, line.id, 0, user_id=None)
    assert post_confirmed(db, tenant, platform, match, user_id=None, now=NOW) == "posted"
    assert platform.invoices["i2001"].status is InvoiceStatus.PAID
    assert line.status == "reconciled"
    aliases = db.scalars(select(PayerAlias.alias).order_by(PayerAlias.alias)).all()
    assert aliases == ["account:GB99BARC20000012345678", "name:JS HOLDINGS"]
    assert exception_queue(db, tenant) == []

    # Next week the same payer pays another Globex invoice without any reference: it auto-posts now.
    _, summary = _run(db, tenant, platform, [Entry("250.00", "JS HOLDINGS", "GB99BARC20000012345678")], "S2")
    assert (summary["auto"], summary["posted"]) == (1, 1), _match(db, "250.00").explanation
    assert platform.invoices["i2002"].status is InvoiceStatus.PAID


def test_admin_can_pick_another_invoice_and_amount(db, tenant, platform) -> None:
    _run(db, tenant, platform, [Entry("100.00", "Initech GmbH", text="part payment")])
    line = _line(db, "100.00")
    invoice = db.scalars(select(Invoice).where(Invoice.remote_id == "i3001")).one()
    with pytest.raises(QueueActionError, match="at most"):
        change_match(db, tenant, line.id, [(invoice.id, "150.00")], user_id=None)
    with pytest.raises(QueueActionError, match="not an amount"):
        change_match(db, tenant, line.id, [(invoice.id, "ten")], user_id=None)
    match = change_match(db, tenant, line.id, [(invoice.id, "100")], user_id=None)
    assert match.residual == "partial"
    assert post_confirmed(db, tenant, platform, match, user_id=None, now=NOW) == "posted"
    assert platform.invoices["i3001"].amount_due == Decimal("677.77")
    assert db.scalars(select(PayerAlias.alias)).all() == ["name:Initech GmbH"]


def test_reject_ignores_the_line(db, tenant, platform) -> None:
    _run(db, tenant, platform, [Entry("42.42", "Someone Else", text="birthday")])
    line = _line(db, "42.42")
    match = reject_match(db, tenant, line.id, user_id=None)
    assert (match.status, line.status) == ("rejected", "ignored")
    assert exception_queue(db, tenant) == []
    with pytest.raises(QueueActionError):
        confirm_suggestion(db, tenant, line.id, 0, user_id=None)
    assert platform.writes == []


def test_queue_actions_are_tenant_scoped(db, tenant, platform, make_tenant) -> None:
    _run(db, tenant, platform, [Entry("999.00", "JS HOLDINGS")])
    other = make_tenant(name="Other")
    with pytest.raises(QueueActionError):
        confirm_suggestion(db, other, _line(db, "999.00").id, 0, user_id=None)


def test_thresholds_come_from_tenant_settings(db, tenant, platform) -> None:
    assert matching_config(tenant).auto_threshold == 0.90
    tenant.settings = {"matching": {"auto_threshold": 0.999, "min_lead": "0.2", "fee_tolerance": "5"}}
    config = matching_config(tenant)
    assert (config.auto_threshold, config.min_lead, config.fee_tolerance) == (0.999, 0.2, Decimal("5"))
    _, summary = _run(db, tenant, platform, [Entry("1200.00", "Acme Trading Ltd", text="INV-1001")])
    assert (summary["auto"], summary["suggest"], summary["posted"]) == (0, 1, 0)


def test_invoice_paid_elsewhere_in_full_is_refused_not_paid_twice(db, tenant, platform) -> None:
    # The mirror still says 1200 due, the platform says paid: we never started posting this match, so
    # the money was recorded by someone else; nothing is sent and the line goes back to the queue.
    platform.invoices["i1001"] = dataclasses.replace(platform.invoices["i1001"], amount_due=Decimal("0"),
                                                     status=InvoiceStatus.PAID)
    _, summary = _run(db, tenant, platform, [Entry("1200.00", "Acme Trading Ltd", text="INV-1001")])
    assert (summary["posted"], summary["refused"]) == (0, 1)
    assert platform.payments == {}
    assert "not posted: INV-1001 amount due changed on the platform since matching (1200.00 to 0, by this " \
           "line's 1200.00); already recorded there?" in _match(db, "1200.00").explanation
    assert platform.writes == []


def test_confirmed_match_is_posted_by_the_next_reconcile_run(db, tenant, platform) -> None:
    statement_id, _ = _run(db, tenant, platform, [Entry("999.00", "JS HOLDINGS")])
    confirm_suggestion(db, tenant, _line(db, "999.00").id, 0, user_id=None)
    summary = reconcile(db, tenant, platform, statement_id, NOW)  # e.g. the platform was down at confirm
    assert summary["posted"] == 1
    assert platform.invoices["i2001"].status is InvoiceStatus.PAID
    assert _match(db, "999.00").status == "posted"


def test_picked_invoices_must_be_in_the_line_currency_and_open(db, tenant, platform) -> None:
    _run(db, tenant, platform, [Entry("100.00", "Initech GmbH", text="on account")])
    line = _line(db, "100.00")
    invoice = db.scalars(select(Invoice).where(Invoice.remote_id == "i3001")).one()
    invoice.currency = "EUR"
    with pytest.raises(QueueActionError, match="INV-3001 is in EUR but the line is in GBP"):
        change_match(db, tenant, line.id, [(invoice.id, "100.00")], user_id=None)
    invoice.currency, invoice.status = "GBP", "paid"
    with pytest.raises(QueueActionError, match="pick an open invoice"):
        change_match(db, tenant, line.id, [("INV-3001", "100.00")], user_id=None)
    with pytest.raises(QueueActionError, match="at least one"):
        change_match(db, tenant, line.id, [], user_id=None)
    assert platform.writes == []


def test_confirming_a_suggestion_in_another_currency_is_refused_not_posted(db, tenant, platform) -> None:
    # A EUR statement line quotes a GBP invoice: the engine only suggests it (FX conversion needed).
    # Posting it would book 1200 "EUR" against a GBP invoice and an "FX loss" of the currency gap;
    # like "apply to other invoices", a confirmation in another currency is refused.
    imported = import_statement(db, tenant, camt053([Entry("1100.00", "Acme Trading Ltd", text="INV-1001")],
                                                    currency="EUR"), "eur.xml")
    summary = reconcile(db, tenant, platform, imported["statement_id"], NOW)
    assert (summary["suggest"], summary["posted"]) == (1, 0)
    line = _line(db, "1100.00")
    assert _match(db, "1100.00").suggestions[0]["allocations"][0]["number"] == "INV-1001"
    with pytest.raises(QueueActionError, match="INV-1001 is in GBP but the line is in EUR"):
        confirm_suggestion(db, tenant, line.id, 0, user_id=None)
    assert platform.writes == []
    assert (line.status, _match(db, "1100.00").status) == ("exception", "proposed")


def test_invoice_whose_currency_changed_on_the_platform_is_refused(db, tenant, platform) -> None:
    # The mirror still says GBP, the platform (the system of record) says EUR: posting re-checks.
    platform.invoices["i1001"] = dataclasses.replace(platform.invoices["i1001"], currency="EUR")
    _, summary = _run(db, tenant, platform, [Entry("1200.00", "Acme Trading Ltd", text="INV-1001")])
    assert (summary["auto"], summary["posted"], summary["refused"]) == (1, 0, 1)
    assert platform.writes == []
    assert "not posted: INV-1001 is in EUR but the line is in GBP" in _match(db, "1200.00").explanation
