"""Amounts are compared and allocated in each currency's own minor units (ISO 4217): three decimals
for KWD, BHD, JOD, OMR, TND; none for JPY; two otherwise."""

from __future__ import annotations

from decimal import Decimal

import pytest
from matching_builders import ACME, inv, line

from addon.domain.matching import Decision, MatchingConfig, MatchingIndex, MatchResult, Residual, match_line
from addon.domain.matching.amounts import from_minor, to_minor
from addon.domain.matching.baseline import match_exact_reference


def run(bank_line, invoices) -> MatchResult:  # type: ignore[no-untyped-def]
    return match_line(bank_line, MatchingIndex.build(invoices), MatchingConfig())


def test_minor_unit_conversion_follows_the_currency() -> None:
    assert to_minor(Decimal("12.345"), "KWD") == 12345
    assert to_minor(Decimal("12.34"), "GBP") == 1234
    assert to_minor(Decimal("120000"), "JPY") == 120000
    assert to_minor(Decimal("12.3456"), "BHD") == 12346  # more decimals than the currency: rounded to its own
    assert from_minor(12345, "OMR") == Decimal("12.345")
    assert str(from_minor(12340, "TND")) == "12.340"
    assert str(from_minor(1234, "EUR")) == "12.34"
    assert str(from_minor(120000, "JPY")) == "120000"


@pytest.mark.parametrize("currency", ["KWD", "BHD", "JOD", "OMR", "TND"])
def test_three_decimal_amount_matches_its_own_invoice_not_the_one_a_fils_away(currency: str) -> None:
    # The payer names neither invoice: only the amount and the payer tell them apart.
    invoices = [inv(101, "12.345", currency=currency), inv(102, "12.340", currency=currency)]
    result = run(line("12.345", name=ACME[1], account=ACME[2][0], currency=currency), invoices)
    assert result.decision is Decision.AUTO, result.explanation
    assert [(a.invoice_id, a.amount) for a in result.allocations] == [("I101", Decimal("12.345"))]
    assert result.residual is None
    assert "amount 12.345 equals the amount due" in result.explanation


def test_three_decimal_residuals_and_partials_keep_the_fils() -> None:
    invoices = [inv(101, "1200.125", currency="KWD")]
    fee = run(line("1192.625", ref="INV-000101", currency="KWD"), invoices)
    assert (fee.residual, fee.residual_amount) == (Residual.FEE, Decimal("7.500"))
    partial = run(line("600.005", ref="INV-000101", currency="KWD"), invoices)
    assert partial.residual is Residual.PARTIAL
    assert [a.amount for a in partial.suggestions[0].allocations] == [Decimal("600.005")]
    assert partial.residual_amount == Decimal("600.120")


def test_zero_decimal_currency_still_matches() -> None:
    invoices = [inv(101, "120000", currency="JPY"), inv(102, "45000", currency="JPY")]
    exact = run(line("120000", ref="INV-000101", currency="JPY"), invoices)
    assert exact.decision is Decision.AUTO
    assert [(a.invoice_id, a.amount) for a in exact.allocations] == [("I101", Decimal("120000"))]
    fee = run(line("119990", ref="INV-000101", currency="JPY"), invoices)  # 10 yen short: within 15.00 yen
    assert (fee.residual, fee.residual_amount) == (Residual.FEE, Decimal("10"))
    assert match_exact_reference(line("50000", text="INV-000102", currency="JPY"),
                                 MatchingIndex.build(invoices)).allocations[0].amount == Decimal("45000")
