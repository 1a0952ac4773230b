"""How a line amount relates to what is due: exact, bank fee, FX difference, short- or over-payment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from addon.domain.statements.text import minor_units

from .model import MatchingConfig, Residual

# Remittance words that turn a short-payment into a deduction, and the credit-note reason they imply.
# Each is matched at the start of a word only: "wireless", "unless", "reclaimed" or "Shortlands" in
# a payer's text are no reason, and "overcharged" is a pricing claim, not a bank charge.
_DEDUCTION_WORDS: tuple[tuple[str, str], ...] = (
    (r"damage|broken|defect", "damaged"),
    (r"pric|overcharg|rate diff", "pricing"),
    (r"promo|rebate|listing|marketing", "promotion"),
    (r"return|rma\b", "returns"),
    (r"discount|early pay|settlement", "discount"),
    (r"short\b|short-?pa|shortage|shortfall|deduct|withh|less\b|dispute|claim", "other"),
)
_FEE_WORDS = r"\b(?:charg|chgs|fee|commission)"
_ROUND_PERCENTAGES = (1, 2, 3, 5, 10)  # deductions at a round rate are discounts taken by the payer


@dataclass(frozen=True, slots=True)
class AmountFit:
    residual: Residual | None  # None = exact
    residual_minor: int  # in the line currency's minor units, always >= 0
    identity: float  # how much the amount alone points at this allocation
    fit_referenced: float  # plausibility multiplier when the payer quoted the invoice(s)...
    fit_unreferenced: float  # ... and when only the amount and the payer point at them
    deduction_reason: str | None = None

    def fit(self, reference_strength: float) -> float:
        """A quoted reference explains a short/over-payment; without one the amount must speak alone."""
        span = self.fit_referenced - self.fit_unreferenced
        return self.fit_unreferenced + span * reference_strength


def stated_deduction(text: str) -> str | None:
    """Reason category if the remittance text says why the payer paid less (bank charges are no reason)."""
    lowered = text.lower()
    if re.search(_FEE_WORDS, lowered):
        return None
    for pattern, reason in _DEDUCTION_WORDS:
        if re.search(rf"\b(?:{pattern})", lowered):
            return reason
    return None


def round_rate_short(line_minor: int, due_minor: int) -> bool:
    """Whether a short payment is a round percentage of the due, to one minor unit (a discount taken)."""
    short = due_minor - line_minor
    return any(abs(short * 100 - pct * due_minor) < 100 for pct in _ROUND_PERCENTAGES)


def fit_amount(line_minor: int, due_minor: int, config: MatchingConfig, text: str = "", *,
               digits: int = 2) -> AmountFit:
    """Classify the difference between the line amount and the total due of an allocation.

    Both amounts are in minor units of their (shared) currency, which has ``digits`` decimals: the
    fee tolerance, a money amount, is scaled to them (15.00 is 1500 cents, 15000 fils, 15 yen).
    """
    diff = line_minor - due_minor
    if diff == 0:
        return AmountFit(None, 0, 0.6, 1.0, 1.0)
    if diff < 0 and text and (stated := stated_deduction(text)) is not None:
        # The payer says why it paid less: a deduction even when small enough to pass for a bank fee.
        return AmountFit(Residual.DEDUCTION, -diff, 0.05, 0.96, 0.75, stated)
    fee_cap = min(fee_tolerance_minor(config, digits), int(config.fee_tolerance_pct * due_minor))
    if diff < 0 and -diff <= fee_cap:
        return AmountFit(Residual.FEE, -diff, 0.2, 0.99, 0.93)
    if abs(diff) <= int(config.fx_tolerance_pct * due_minor):
        return AmountFit(Residual.FX, abs(diff), 0.1, 0.98, 0.88)
    if diff > 0:
        return AmountFit(Residual.OVERPAYMENT, diff, 0.0, 0.95 if diff * 4 <= due_minor else 0.92, 0.7)
    if round_rate_short(line_minor, due_minor):  # a stated reason was handled above
        return AmountFit(Residual.DEDUCTION, -diff, 0.05, 0.96, 0.75, "discount")
    return AmountFit(Residual.PARTIAL, -diff, 0.0, 0.95, 0.7)


def fee_tolerance_minor(config: MatchingConfig, digits: int) -> int:
    """The bank-fee tolerance in minor units of a currency with ``digits`` decimals."""
    return int(Decimal(str(config.fee_tolerance)).scaleb(digits))


def to_minor(amount: Decimal, currency: str) -> int:
    """Whole minor units of ``currency`` (cents, KWD fils: 12.345 -> 12345, JPY yen: 1200 -> 1200).

    Each currency's own decimals (ISO 4217), so 12.345 and 12.340 KWD differ; an amount given with more
    decimals than its currency has is rounded half up to them first.
    """
    return int(amount.scaleb(minor_units(currency)).to_integral_value(rounding=ROUND_HALF_UP))


def from_minor(units: int, currency: str) -> Decimal:
    """Minor units of ``currency`` back to a money amount with exactly its decimals."""
    digits = minor_units(currency)
    return Decimal(units).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))
