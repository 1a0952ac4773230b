"""Invariants of every verdict, whatever the line looks like (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from matching_builders import ledger, line

from addon.domain.matching import Decision, MatchingIndex, Residual, match_line

INDEX = MatchingIndex.build(ledger())
DUE = {inv.invoice_id: inv.amount_due for inv in ledger()}
NUMBERS = [inv.number for inv in ledger()]

amounts = st.decimals(min_value=Decimal("-100"), max_value=Decimal("9000"), places=2)
texts = st.lists(st.sampled_from([*NUMBERS, "thanks", "less damaged", "PO 1234", "inv 103", "INV-00010"]),
                 max_size=3).map(" ".join)
names = st.sampled_from([None, "Acme Trading Ltd", "GLOBEX LOGISTICS", "Initech", "Someone Else"])


@settings(max_examples=150, deadline=None)
@given(amount=amounts, text=texts, name=names, currency=st.sampled_from(["GBP", "EUR"]))
def test_verdicts_are_consistent(amount: Decimal, text: str, name: str | None, currency: str) -> None:
    result = match_line(line(str(amount), text=text or None, name=name, currency=currency), INDEX)
    assert 0.0 <= result.confidence <= 1.0
    assert len(result.suggestions) <= 3
    assert [s.confidence for s in result.suggestions] == sorted((s.confidence for s in result.suggestions),
                                                                 reverse=True)
    if result.decision is not Decision.AUTO:
        assert result.allocations == ()
        return
    assert amount > 0
    assert result.allocations == result.suggestions[0].allocations
    for alloc in result.allocations:
        assert 0 < alloc.amount <= DUE[alloc.invoice_id]
    total = sum(a.amount for a in result.allocations)
    if result.residual in (Residual.PARTIAL, Residual.DEDUCTION):
        assert total == amount
    elif result.residual is Residual.OVERPAYMENT:
        assert total + result.residual_amount == amount
    elif result.residual is None:
        assert total == amount
