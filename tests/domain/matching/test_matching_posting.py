"""From verdict to what gets posted: payment (with unapplied credit), credit note for an accepted
deduction, and the bank transaction that books a fee or FX difference."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from matching_builders import ledger, line

from addon.domain.matching import (
    AdjustmentAccounts,
    MatchingIndex,
    Residual,
    match_line,
    proposed_adjustment,
    proposed_credit_note,
    proposed_payment,
)
from addon.domain.types import Allocation, BankTransactionKind

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


ACCOUNTS = AdjustmentAccounts(fee="404", fx="475")


def _adjustment_case(amount: str, text: str = ""):  # type: ignore[no-untyped-def]
    bank_line = line(amount, ref="INV-000101", text=text, name="Acme Trading Ltd")
    candidate = best(bank_line)
    return bank_line, candidate, proposed_payment(candidate, bank_line, account_code="090")


@pytest.mark.parametrize(("amount", "residual", "kind", "account", "difference"), [
    ("1192.50", Residual.FEE, BankTransactionKind.SPEND, "404", "7.50"),       # bank charges deducted
    ("1180.00", Residual.FX, BankTransactionKind.SPEND, "475", "20.00"),       # FX loss
    ("1215.00", Residual.FX, BankTransactionKind.RECEIVE, "475", "15.00"),     # FX gain
])
def test_fee_and_fx_close_the_invoice_and_book_the_difference(amount, residual, kind, account,  # type: ignore[no-untyped-def]
                                                              difference) -> None:
    bank_line, candidate, payment = _adjustment_case(amount)
    assert candidate.residual is residual
    assert payment.allocations == (Allocation("I101", Decimal("1200.00")),)
    assert payment.unapplied == 0
    booked = proposed_adjustment(candidate, bank_line, ACCOUNTS, bank_account_code="090")
    assert booked is not None
    assert (booked.kind, booked.account_code, booked.amount) == (kind, account, Decimal(difference))
    assert (booked.contact_id, booked.date, booked.currency, booked.bank_account_code) == (
        "C1", date(2026, 11, 2), "GBP", "090")
    assert "INV-000101" in booked.description
    # the bank account moves by exactly the line: payment in, the difference out (or in)
    sign = 1 if kind is BankTransactionKind.RECEIVE else -1
    assert payment.amount + sign * booked.amount == bank_line.amount


def test_overpayment_pays_in_full_and_leaves_the_rest_unapplied() -> None:
    bank_line, candidate, payment = _adjustment_case("1500.00")
    assert candidate.residual is Residual.OVERPAYMENT
    assert payment.applied == Decimal("1200.00")
    assert payment.unapplied == Decimal("300.00")
    assert payment.amount == bank_line.amount
    assert proposed_adjustment(candidate, bank_line, ACCOUNTS) is None


def test_exact_partial_and_deduction_book_no_adjustment() -> None:
    for amount, text in (("1200.00", ""), ("500.00", ""), ("1140.00", "less damaged goods")):
        bank_line, candidate, payment = _adjustment_case(amount, text)
        assert proposed_adjustment(candidate, bank_line, ACCOUNTS) is None, amount
        assert payment.unapplied == 0
