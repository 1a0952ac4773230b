"""Money the bank takes back after we posted it as a payment goes to a human, never silently ignored."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from addon.domain.types import InvoiceStatus
from addon.models import AuditLog, BankLine, Match, Tenant
from addon.services.reconciliation import (
    QueueActionError,
    change_match,
    confirm_suggestion,
    exception_queue,
    import_statement,
    reconcile,
    reject_match,
)
from tests.addon.reconciliation.conftest import ACME_IBAN, NOW
from tests.addon.reconciliation.statements import Entry, camt053

PAID = Entry("1200.00", "Acme Trading Ltd", ACME_IBAN, "INV-1001", day=date(2026, 11, 3))
# camt: a reversed credit is booked as a debit with RvslInd and still names the debtor (the payer).
REVERSED = Entry("-1200.00", "Acme Trading Ltd", ACME_IBAN, "INV-1001", day=date(2026, 11, 10), reversal=True)


def _run(db, tenant, platform, entries, statement_id):  # type: ignore[no-untyped-def]
    imported = import_statement(db, tenant, camt053(entries, statement_id=statement_id), f"{statement_id}.xml")
    return reconcile(db, tenant, platform, imported["statement_id"], NOW)


def _line(db, amount: str) -> BankLine:  # type: ignore[no-untyped-def]
    return db.scalars(select(BankLine).where(BankLine.amount == Decimal(amount))).one()


def test_reversal_of_a_posted_payment_goes_to_the_exception_queue(db, tenant, platform) -> None:
    assert _run(db, tenant, platform, [PAID], "S1")["posted"] == 1
    [payment_id] = platform.payments
    summary = _run(db, tenant, platform, [REVERSED], "S2")
    assert (summary["reversals"], summary["exceptions"], summary["posted"]) == (1, 1, 0)
    line, original = _line(db, "-1200.00"), _line(db, "1200.00")
    assert (line.status, line.reversal, line.reverses_line_id) == ("exception", True, original.id)
    match = db.scalars(select(Match).where(Match.bank_line_id == line.id)).one()
    assert (match.decision, match.status, match.allocations) == ("reversal", "proposed", [])
    assert match.explanation.startswith(
        f"payment reversed by the bank after it was posted as payment {payment_id} on invoice INV-1001")
    [entry] = exception_queue(db, tenant)
    assert entry["line"].id == line.id
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "payment.reversed")).one()
    assert audit.object_id == str(line.id)
    assert audit.after["original_line_id"] == original.id
    assert audit.after["payment_ids"] == [payment_id]
    # Nothing is undone in the ERP by us: a human decides (reverse the payment there, then clear the line).
    assert [kind for kind, _ in platform.writes] == ["create_payment"]
    assert platform.invoices["i1001"].status is InvoiceStatus.PAID
    with pytest.raises(QueueActionError, match="reversal"):
        confirm_suggestion(db, tenant, line.id, 0, user_id=None)
    with pytest.raises(QueueActionError, match="reversal"):
        change_match(db, tenant, line.id, [("INV-1002", "100.00")], user_id=None)
    reject_match(db, tenant, line.id, user_id=None)
    assert exception_queue(db, tenant) == []

    # Running the statement again flags nothing twice.
    again = import_statement(db, tenant, camt053([REVERSED], statement_id="S2"), "S2.xml")
    assert again["duplicate_file"]
    assert reconcile(db, tenant, platform, line.statement_id, NOW)["reversals"] == 0
    assert len(db.scalars(select(AuditLog).where(AuditLog.action == "payment.reversed")).all()) == 1


def test_sepa_return_in_the_same_statement_as_the_payment_holds_it_unposted(db, tenant, platform) -> None:
    returned = Entry("-1200.00", "Acme Trading Ltd", ACME_IBAN, "INV-1001", day=date(2026, 11, 10),
                     return_reason="AC04")
    summary = _run(db, tenant, platform, [PAID, returned], "S1")
    assert (summary["auto"], summary["posted"], summary["reversals"], summary["exceptions"]) == (1, 0, 1, 2)
    assert platform.writes == []  # the money came back before we posted it: nothing is posted
    line, original = _line(db, "-1200.00"), _line(db, "1200.00")
    assert (line.status, line.return_reason, line.reverses_line_id) == ("exception", "AC04", original.id)
    match = db.scalars(select(Match).where(Match.bank_line_id == line.id)).one()
    assert match.explanation.startswith("payment reversed by the bank before it was posted (bank line "
                                        f"{original.id} of 2026-11-03, 1200.00 GBP from Acme Trading Ltd, "
                                        "queued for posting); return reason AC04")
    held = db.scalars(select(Match).where(Match.bank_line_id == original.id)).one()
    assert (held.decision, held.status, original.status) == ("auto", "held", "exception")
    assert "held: the bank took this payment back" in held.explanation
    assert sorted(db.scalars(select(AuditLog.action)).all()) == ["match.held", "payment.reversed"]


def test_reversals_that_match_nothing_we_received_stay_ignored(db, tenant, platform) -> None:
    # Another payer's money taken back, and a bank fee: nothing of ours to link.
    summary = _run(db, tenant, platform, [PAID, Entry("-1200.00", "Globex BV", text="INV-1001", reversal=True),
                                          Entry("-42.42", "Someone Else", text="birthday", reversal=True),
                                          Entry("-30.00", "Bank", text="account fee")], "S1")
    assert (summary["posted"], summary["reversals"]) == (1, 0)
    assert [_line(db, a).status for a in ("-1200.00", "-42.42", "-30.00")] == ["ignored"] * 3
    assert not db.scalars(select(AuditLog).where(AuditLog.action == "payment.reversed")).all()


MT940 = """{1:F01BANKGB2LXXXX0000000000}{2:O940}{4:
:20:REF1
:25:GB29NWBK60161331926819
:28C:1/1
:60F:C261102GBP0,00
:61:2611031103C1200,00NTRFNONREF//B1
:86:/EREF/E2E-1/NAME/Acme Trading Ltd/REMI/USTD//INV-1001/
:61:2611101110RC1200,00NTRFNONREF//B2
:86:/EREF/E2E-1/NAME/Acme Trading Ltd/RTRN/AC04/REMI/USTD//INV-1001/
:62F:C261110GBP0,00
-}
"""

BAI2 = b"""01,SENDER,RECEIVER,261110,0800,1,,,2/
02,RECEIVER,SENDER,1,261110,,GBP,2/
03,ACC-1,,010,0,,,015,0,,/
16,175,120000,Z,BREF1,,INV-1001/
16,555,120000,Z,BREF2,,DEPOSITED ITEM RETURNED/
49,0,3/
98,0,1,5/
99,0,1,7"""


@pytest.mark.parametrize(("data", "filename", "by_amount"), [(MT940.encode(), "s.sta", False),
                                                             (BAI2, "s.bai2", True)])
def test_mt940_and_bai2_payment_and_return_in_one_file_hold_the_payment(db, tenant, platform, data, filename,
                                                                by_amount) -> None:
    imported = import_statement(db, tenant, data, filename)
    summary = reconcile(db, tenant, platform, imported["statement_id"], NOW)
    # Payment and return in one file: the return is seen before posting, so nothing is posted.
    assert (summary["posted"], summary["reversals"]) == (0, 1), db.scalars(select(Match.explanation)).all()
    assert platform.writes == []
    line = _line(db, "-1200.00")
    assert (line.status, line.reverses_line_id) == ("exception", _line(db, "1200.00").id)
    explanation = db.scalars(select(Match.explanation).where(Match.bank_line_id == line.id)).one()
    assert "payment reversed by the bank before it was posted" in explanation
    assert ("linked by the amount only" in explanation) is by_amount
    assert line.return_reason == (None if by_amount else "AC04")


# --- reversals of lines not posted yet ------------------------------------------------------------------
SUGGESTED = Entry("999.00", "G. Buyer", text="thanks", day=date(2026, 11, 3))  # amount only: a suggestion


def test_reversal_of_a_suggested_line_holds_it_and_queues_both(db, tenant, platform) -> None:
    first = _run(db, tenant, platform, [SUGGESTED], "S1")
    assert (first["suggest"], first["exceptions"]) == (1, 1)
    summary = _run(db, tenant, platform, [Entry("-999.00", "G. Buyer", text="thanks", reversal=True)], "S2")
    assert (summary["reversals"], summary["exceptions"]) == (1, 1)
    line, original = _line(db, "-999.00"), _line(db, "999.00")
    assert line.reverses_line_id == original.id
    held = db.scalars(select(Match).where(Match.bank_line_id == original.id)).one()
    assert (held.status, original.status) == ("held", "exception")
    assert "waiting in the exception queue" in db.scalars(select(Match.explanation)
                                                          .where(Match.bank_line_id == line.id)).one()
    assert {e["line"].id for e in exception_queue(db, tenant)} == {line.id, original.id}
    with pytest.raises(QueueActionError, match="the bank took this payment back"):
        confirm_suggestion(db, tenant, original.id, 0, user_id=None)
    with pytest.raises(QueueActionError, match="the bank took this payment back"):
        change_match(db, tenant, original.id, [("INV-2001", "999.00")], user_id=None)
    reject_match(db, tenant, original.id, user_id=None)
    reject_match(db, tenant, line.id, user_id=None)
    assert exception_queue(db, tenant) == []
    assert platform.writes == []


def test_reversal_arriving_before_the_original_is_matched_holds_it_when_matched(db, tenant, platform) -> None:
    # The payment's statement is imported and its job queued; the return's statement is reconciled first.
    s1 = import_statement(db, tenant, camt053([PAID], statement_id="S1"), "S1.xml")["statement_id"]
    assert _run(db, tenant, platform, [REVERSED], "S2")["reversals"] == 1
    assert _line(db, "-1200.00").reverses_line_id == _line(db, "1200.00").id
    summary = reconcile(db, tenant, platform, s1, NOW)
    assert (summary["auto"], summary["posted"], summary["exceptions"]) == (1, 0, 1)
    assert platform.writes == []
    held = db.scalars(select(Match).where(Match.bank_line_id == _line(db, "1200.00").id)).one()
    assert held.status == "held"


def test_reversal_imported_before_the_original_statement_holds_the_original(db, tenant, platform) -> None:
    # Today's statement with the return is imported and reconciled first (it fits nothing yet: stays ignored);
    # an admin then back-fills last week's statement holding the original payment. Reconciling it must link
    # the earlier return and hold the payment: nothing is posted for money that already went back.
    returned = Entry("-1200.00", "Acme Trading Ltd", ACME_IBAN, "INV-1001", day=date(2026, 11, 10),
                     return_reason="AC04")
    assert _run(db, tenant, platform, [returned], "S2")["reversals"] == 0
    assert _line(db, "-1200.00").status == "ignored"
    summary = _run(db, tenant, platform, [PAID], "S1")
    assert (summary["auto"], summary["posted"], summary["reversals"], summary["exceptions"]) == (1, 0, 1, 1)
    assert platform.writes == []
    line, original = _line(db, "-1200.00"), _line(db, "1200.00")
    assert (line.status, line.reverses_line_id, original.status) == ("exception", original.id, "exception")
    reversal = db.scalars(select(Match).where(Match.bank_line_id == line.id)).one()
    assert (reversal.decision, reversal.status) == ("reversal", "proposed")
    assert reversal.explanation.startswith("payment reversed by the bank before it was posted (bank line "
                                           f"{original.id} of 2026-11-03, 1200.00 GBP from Acme Trading Ltd, "
                                           "queued for posting); return reason AC04")
    held = db.scalars(select(Match).where(Match.bank_line_id == original.id)).one()
    assert held.status == "held"
    assert f"held: the bank took this payment back (bank line {line.id}" in held.explanation
    assert {e["line"].id for e in exception_queue(db, tenant)} == {line.id, original.id}
    [reversed_row] = db.scalars(select(AuditLog).where(AuditLog.action == "payment.reversed")).all()
    assert (reversed_row.object_id, reversed_row.before) == (str(line.id), {"line_status": "ignored"})
    assert (reversed_row.after["original_line_id"], reversed_row.after["posted"]) == (original.id, False)
    [held_row] = db.scalars(select(AuditLog).where(AuditLog.action == "match.held")).all()
    assert (held_row.object_id, held_row.after["reversal_line_id"]) == (str(original.id), line.id)
    with pytest.raises(QueueActionError, match="the bank took this payment back"):
        confirm_suggestion(db, tenant, original.id, 0, user_id=None)
    # Reconciling either statement again links and posts nothing more.
    assert reconcile(db, tenant, platform, original.statement_id, NOW)["reversals"] == 0
    assert reconcile(db, tenant, platform, line.statement_id, NOW)["posted"] == 0
    assert platform.writes == []


def test_an_earlier_reversal_waiting_unlinked_in_the_queue_is_linked_on_its_own_match(db, tenant, platform) -> None:
    # A reversal can sit in the exception queue unlinked (e.g. put there by an earlier version); its one
    # Match (unique per line) becomes the reversal's instead of a second one being added.
    _run(db, tenant, platform, [REVERSED], "S2")
    line = _line(db, "-1200.00")
    line.status = "exception"
    db.add(Match(tenant_id=tenant.id, bank_line_id=line.id, decision="none", confidence=Decimal("0"),
                 allocations=[], suggestions=[], explanation="no candidate", status="proposed"))
    db.flush()
    summary = _run(db, tenant, platform, [PAID], "S1")
    assert (summary["posted"], summary["reversals"]) == (0, 1)
    match = db.scalars(select(Match).where(Match.bank_line_id == line.id)).one()
    assert (match.decision, line.reverses_line_id) == ("reversal", _line(db, "1200.00").id)
    assert db.scalars(select(AuditLog).where(AuditLog.action == "payment.reversed")).one().before == {
        "line_status": "exception"}


def test_an_earlier_reversal_of_another_payer_or_too_late_is_not_linked(db, tenant, platform) -> None:
    # Same amount, but another payer; and the right payer but booked more than 180 days after the payment.
    other = Entry("-1200.00", "Globex BV", "NL91ABNA0417164300", "INV-1001", day=date(2026, 11, 10), reversal=True)
    late = Entry("-1200.00", "Acme Trading Ltd", ACME_IBAN, "INV-1001", day=date(2027, 6, 1), reversal=True)
    _run(db, tenant, platform, [other, late], "S2")
    summary = _run(db, tenant, platform, [PAID], "S1")
    assert (summary["posted"], summary["reversals"]) == (1, 0)
    assert [line.status for line in db.scalars(select(BankLine).where(BankLine.amount < 0))] == ["ignored"] * 2


def test_posting_job_already_running_rechecks_and_refuses_a_reversed_line(db, tenant, platform, database_url,
                                                                          monkeypatch) -> None:
    # Statement S1 pays INV-1002 and INV-1001; while its job posts the first, another worker reconciles the
    # statement that returns the second. The running job then re-checks before posting it and refuses.
    s1 = import_statement(db, tenant, camt053([Entry("300.00", "Acme Trading Ltd", ACME_IBAN, "INV-1002",
                                                     day=date(2026, 11, 3)), PAID], statement_id="S1"),
                          "S1.xml")["statement_id"]
    db.commit()
    real = platform.create_payment

    def other_worker_meanwhile(payment, *, idempotency_key, **kwargs):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(platform, "create_payment", real)
        created = real(payment, idempotency_key=idempotency_key, **kwargs)
        engine = create_engine(database_url)
        with Session(engine) as other:
            tenant_there = other.get(Tenant, tenant.id)
            s2 = import_statement(other, tenant_there, camt053([REVERSED], statement_id="S2"), "S2.xml")
            assert reconcile(other, tenant_there, platform, s2["statement_id"], NOW)["reversals"] == 1
            other.commit()
        engine.dispose()
        return created

    monkeypatch.setattr(platform, "create_payment", other_worker_meanwhile)
    summary = reconcile(db, tenant, platform, s1, NOW, checkpoint=db.commit)
    assert (summary["auto"], summary["posted"], summary["refused"]) == (2, 1, 1), summary
    assert [p.amount for p in platform.payments.values()] == [Decimal("300.00")]
    assert platform.invoices["i1001"].amount_due == Decimal("1200.00")
    held = db.scalars(select(Match).where(Match.bank_line_id == _line(db, "1200.00").id)).one()
    assert (held.status, _line(db, "1200.00").status) == ("held", "exception")
    assert db.scalars(select(AuditLog.action).where(AuditLog.action == "match.held")).all() == ["match.held"]
