"""How a line amount relates to what is due: exact, bank fee, FX difference, short- or over-payment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

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
    residual_cents: int  # always >= 0
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


def round_rate_short(line_cents: int, due_cents: int) -> bool:
    """Whether a short payment is a round percentage of the due (a discount taken, not a partial)."""
    short = due_cents - line_cents
    return any(abs(short * 100 - pct * due_cents) < 100 for pct in _ROUND_PERCENTAGES)


def fit_amount(line_cents: int, due_cents: int, config: MatchingConfig, text: str = "") -> AmountFit:
    """Classify the difference between the line amount and the total due of an allocation."""
    diff = line_cents - due_cents
    if diff == 0:
        return AmountFit(None, 0, 0.6, 1.0, 1.0)
    if diff < 0 and text and (stated := stated_deduction(text)) is not None:
        # The payer says why it paid less: a deduction even when small enough to pass for a bank fee.
        return AmountFit(Residual.DEDUCTION, -diff, 0.05, 0.96, 0.75, stated)
    fee_cap = min(int(config.fee_tolerance * 100), int(config.fee_tolerance_pct * due_cents))
    if diff < 0 and -diff <= fee_cap:
        return AmountFit(Residual.FEE, -diff, 0.2, 0.99, 0.93)
    if abs(diff) <= int(config.fx_tolerance_pct * due_cents):
        return AmountFit(Residual.FX, abs(diff), 0.1, 0.98, 0.88)
    if diff > 0:
        return AmountFit(Residual.OVERPAYMENT, diff, 0.0, 0.95 if diff * 4 <= due_cents else 0.92, 0.7)
    if round_rate_short(line_cents, due_cents):  # a stated reason was handled above
        return AmountFit(Residual.DEDUCTION, -diff, 0.05, 0.96, 0.75, "discount")
    return AmountFit(Residual.PARTIAL, -diff, 0.0, 0.95, 0.7)


def cents_to_decimal(cents: int) -> Decimal:
    """Minor units back to a money amount."""
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))
