"""Statutory packs: UK Late Payment Act and EU Directive 2011/7/EU, worked by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from addon.domain.dunning import statutory_claim
from addon.domain.dunning.statutory import MissingReferenceRateError, rate_in_force, uk_compensation

RATES = ((date(2025, 12, 18), Decimal("3.75")), (date(2026, 5, 7), Decimal("3.50")))


@pytest.mark.parametrize(("amount", "fee"), [
    ("0.01", "40.00"), ("999.99", "40.00"), ("1000.00", "70.00"), ("9999.99", "70.00"),
    ("10000.00", "100.00"), ("250000", "100.00"),
])
def test_uk_fixed_compensation_bands(amount, fee):
    assert uk_compensation(Decimal(amount)) == Decimal(fee)


def test_uk_interest_uses_rate_fixed_on_30_june_for_the_second_half_year():
    # Due 1 Oct 2026, interest runs from 2 Oct: reference rate in force on 30 June 2026 (3.50) + 8 = 11.50%
    claim = statutory_claim("uk", Decimal("1000.00"), "GBP", date(2026, 10, 1), date(2026, 10, 31), RATES)
    assert claim is not None
    assert claim.annual_rate == Decimal("11.50")
    assert claim.days_late == 30
    assert claim.interest == Decimal("9.45")  # 1000 x 11.5% x 30/365 = 9.452...
    assert claim.compensation == Decimal("70.00")


def test_uk_interest_uses_rate_fixed_on_31_december_for_the_first_half_year():
    claim = statutory_claim("uk", Decimal("500.00"), "GBP", date(2026, 6, 29), date(2026, 12, 31), RATES)
    assert claim is not None
    assert claim.annual_rate == Decimal("11.75")  # 3.75 in force on 31 Dec 2025, fixed for the whole debt


def test_eu_interest_changes_rate_each_half_year():
    rates = ((date(2026, 1, 1), Decimal("2.15")), (date(2026, 7, 1), Decimal("2.00")))
    claim = statutory_claim("eu", Decimal("10000.00"), "EUR", date(2026, 6, 20), date(2026, 7, 10), rates)
    assert claim is not None
    # 21-30 June: 10 days at 10.15%; 1-10 July: 10 days at 10.00%
    expected = (Decimal("10000") * Decimal("10.15") / 100 * 10 / 365
                + Decimal("10000") * Decimal("10.00") / 100 * 10 / 365).quantize(Decimal("0.01"))
    assert claim.interest == expected == Decimal("55.21")
    assert claim.compensation == Decimal("40.00")
    assert claim.annual_rate == Decimal("10.00")


def test_compensation_only_in_the_pack_currency():
    claim = statutory_claim("uk", Decimal("500.00"), "USD", date(2026, 10, 1), date(2026, 10, 31), RATES)
    assert claim is not None
    assert claim.compensation is None
    assert claim.interest > 0


def test_not_late_means_no_claim():
    assert statutory_claim("uk", Decimal("500"), "GBP", date(2026, 10, 1), date(2026, 10, 1), RATES) is None


def test_missing_rate_and_unknown_pack():
    with pytest.raises(MissingReferenceRateError):
        rate_in_force(RATES, date(2020, 1, 1))
    with pytest.raises(ValueError, match="unknown statutory pack"):
        statutory_claim("us", Decimal("1"), "USD", date(2026, 1, 1), date(2026, 2, 1), RATES)
