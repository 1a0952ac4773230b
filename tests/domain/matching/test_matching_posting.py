"""From verdict to what gets posted: payment + credit note for an accepted deduction."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from matching_builders import ledger, line

from addon.domain.matching import MatchingIndex, match_line, proposed_credit_note, proposed_payment
from addon.domain.types import Allocation

DUE = {inv.invoice_id: inv.amount_due for inv in ledger()}


def best(bank_line):  # type: ignore[no-untyped-def]
    result = match_line(bank_line, MatchingIndex.build(ledger()))
    assert result.best is not None
    return result.best


def test_payment_for_an_exact_match() -> None:
    bank_line = line("1200.00", ref="INV-000101", name="Acme Trading Ltd")
    payment = proposed_payment(best(bank_line), bank_line, account_code="090")
    assert (payment.contact_id, payment.date, payment.currency) == ("C1", date(2026, 11, 2), "GBP")
    assert payment.allocations == (Allocation("I101", Decimal("1200.00")),)
    assert (payment.reference, payment.account_code) == ("INV-000101", "090")
    assert proposed_credit_note(best(bank_line), bank_line, DUE) is None


def test_deduction_on_one_invoice_gets_a_credit_note_for_the_gap() -> None:
    bank_line = line("1140.00", ref="INV-000101", text="less damaged goods", name="Acme Trading Ltd")
    candidate = best(bank_line)
    note = proposed_credit_note(candidate, bank_line, DUE)
    assert note is not None
    assert note.amount == Decimal("60.00")
    assert note.allocations == (Allocation("I101", Decimal("60.00")),)
    assert "damaged" in note.reason
    assert proposed_payment(candidate, bank_line).amount + note.amount == DUE["I101"]


def test_deduction_over_several_invoices_credits_the_short_paid_ones() -> None:
    # 1200.00 + 340.50 due, 1400.00 paid with a stated deduction: I101 paid in full, I102 short by 140.50.
    bank_line = line("1400.00", text="INV-000101 INV-000102 pricing deduction", name="Acme Trading Ltd")
    candidate = best(bank_line)
    assert candidate.invoices == ("I101", "I102")
    note = proposed_credit_note(candidate, bank_line, DUE)
    assert note is not None
    assert note.allocations == (Allocation("I102", Decimal("140.50")),)
    assert sum(a.amount for a in candidate.allocations) + note.amount == DUE["I101"] + DUE["I102"]
