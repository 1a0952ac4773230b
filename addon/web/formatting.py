"""How the pages write money: thousands grouped, in the currency's own decimals, never through a float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from addon.domain.statements.text import minor_units


def amount(value: Decimal | str | int | None, currency: str | None = None) -> str:
    """``1234567.5`` GBP -> ``1,234,567.50``; ``10000.00`` JPY -> ``10,000`` (the yen has no minor unit).

    Digits beyond the currency's decimals are kept (``12.345`` GBP stays ``12.345``): a page never hides
    part of an amount by rounding it. Empty stays empty; what is no number is shown as it came."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
        shown = number.quantize(Decimal(1).scaleb(-minor_units(currency)))
    except InvalidOperation:
        return str(value)
    return f"{shown if shown == number else number:,f}"
