"""Normalisation, amount classification and subset-sum as pure functions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from addon.domain.matching import MatchingConfig, Residual
from addon.domain.matching.amounts import fit_amount
from addon.domain.matching.normalize import (
    deletion_variants,
    digit_keys,
    name_key,
    normalize_account,
    reference_key,
    reference_tokens,
)
from addon.domain.matching.subset import subset_sums


@pytest.mark.parametrize(("a", "b"), [
    ("Acme Trading Ltd", "ACME TRADING LIMITED"),
    ("Acme Trading Ltd.", "Trading Acme"),
    ("Société Générale S.A.", "SOCIETE GENERALE"),
    ("Smith & Sons GmbH", "smith and sons"),
])
def test_name_key_ignores_legal_form_case_accents_and_word_order(a: str, b: str) -> None:
    assert name_key(a) == name_key(b)


def test_name_key_keeps_distinguishing_words() -> None:
    assert name_key("Acme Trading Ltd") != name_key("Acme Logistics Ltd")


def test_reference_helpers() -> None:
    assert reference_key("inv-000123") == "INV000123"
    assert digit_keys("INV-000123") == ("000123", "123")
    assert digit_keys("INV-12") == ()
    assert {"INV", "000123", "INV000123"} <= reference_tokens("Payment inv 000123, thanks")
    assert "INV000123" in reference_tokens("INV/000123")
    assert deletion_variants("ABCD") == {"BCD", "ACD", "ABD", "ABC"}
    assert normalize_account("gb11 nwbk-0000 01") == "GB11NWBK000001"


CONFIG = MatchingConfig()


@pytest.mark.parametrize(("line", "due", "text", "residual", "residual_minor"), [
    (100_000, 100_000, "", None, 0),
    (99_000, 100_000, "", Residual.FEE, 1_000),  # 10.00 short: a bank charge
    (98_200, 100_000, "", Residual.FX, 1_800),  # 1.8% short, above the 15.00 fee cap
    (101_500, 100_000, "", Residual.FX, 1_500),
    (95_000, 100_000, "", Residual.DEDUCTION, 5_000),  # exactly 5%: a discount taken
    (99_500, 100_000, "less damaged goods", Residual.DEDUCTION, 500),  # stated reason beats fee
    (99_500, 100_000, "less bank charges", Residual.FEE, 500),
    (60_000, 100_000, "", Residual.PARTIAL, 40_000),
    (130_000, 100_000, "", Residual.OVERPAYMENT, 30_000),
])
def test_fit_amount(line: int, due: int, text: str, residual: Residual | None, residual_minor: int) -> None:
    fit = fit_amount(line, due, CONFIG, text)
    assert (fit.residual, fit.residual_minor) == (residual, residual_minor)


def test_fee_tolerance_is_configurable() -> None:
    assert fit_amount(99_000, 100_000, MatchingConfig(fee_tolerance=Decimal("5.00"))).residual is Residual.FX


def test_deduction_reason_categories() -> None:
    assert fit_amount(90_000, 100_000, CONFIG, "promo rebate").deduction_reason == "promotion"
    assert fit_amount(90_000, 100_000, CONFIG, "pricing difference").deduction_reason == "pricing"
    assert fit_amount(90_000, 100_000, CONFIG, "").deduction_reason == "discount"  # round 10%


@pytest.mark.parametrize("text", [
    "WIRELESS KIT INV-1001",  # "less" inside a word is no deduction
    "INV-1001 PAYMENT UNLESS ADVISED",
    "SHORTLANDS BRANCH INV-1001",
    "RECLAIMED TIMBER LTD INV-1001",
])
def test_deduction_words_inside_other_words_are_no_reason(text: str) -> None:
    # 7.50 short of 1200.00 with no stated reason: a bank charge, not a credit note for a deduction.
    assert fit_amount(119_250, 120_000, CONFIG, text).residual is Residual.FEE


def test_overcharged_is_a_pricing_deduction_not_a_bank_charge() -> None:
    fit = fit_amount(119_250, 120_000, CONFIG, "INV-1001 less 7.50 overcharged")
    assert (fit.residual, fit.deduction_reason) == (Residual.DEDUCTION, "pricing")
    assert fit_amount(119_250, 120_000, CONFIG, "INV-1001 bank charged 7.50").residual is Residual.FEE


def test_subset_sums_finds_pairs_triples_and_quadruples() -> None:
    amounts = [500, 300, 200, 1000, 70]
    assert (1, 2) in subset_sums(amounts, 500)
    assert (0, 1, 2) in subset_sums(amounts, 1000)
    assert subset_sums(amounts, 1070) == [(3, 4), (0, 1, 2, 4)]
    assert subset_sums(amounts, 1070, max_size=3) == [(3, 4)]


def test_subset_sums_needs_at_least_two_and_an_exact_total() -> None:
    assert subset_sums([500, 300], 500) == []
    assert subset_sums([500, 300], 801) == []
    assert subset_sums([], 100) == []


def test_subset_sums_caps_solutions() -> None:
    assert len(subset_sums([1] * 40, 2, max_solutions=5)) == 5
