"""Day exchange rates for the emulated companies: what Xero (XE.com) or QuickBooks would fill in when a
foreign-currency invoice is raised without a rate of its own.

Deterministic, so the same seed gives the same rates on every run: a fixed reference rate per currency
(units per 1 GBP, roughly late-2020s levels) moved by a small daily drift, so invoices raised on
different days carry different rates, as real ones do. Both emulators read the same table, each in its
own direction (Xero: invoice currency per base unit; QBO: home currency per invoice-currency unit).
"""

from __future__ import annotations

import math
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

# Units of each currency per 1 GBP. A currency missing here has no emulated rate.
REFERENCE_PER_GBP: dict[str, Decimal] = {
    "GBP": Decimal("1"), "EUR": Decimal("1.17"), "USD": Decimal("1.27"), "JPY": Decimal("190"),
    "AUD": Decimal("1.93"), "NZD": Decimal("2.10"), "CAD": Decimal("1.73"), "CHF": Decimal("1.12"),
    "ZAR": Decimal("23.5"),
}
# Xero and QBO keep six decimal places on a rate (Xero: "max length = [18].[6]").
RATE_PLACES = Decimal("0.000001")


def quantize_rate(rate: Decimal) -> Decimal:
    """A rate to the six places the platforms keep, halves rounded up."""
    return rate.quantize(RATE_PLACES, ROUND_HALF_UP)


class NoRateError(LookupError):
    """The emulators hold no rate for this currency."""


def _drift(code: str, on: date) -> Decimal:
    """A deterministic wobble of at most +-2% around the reference rate, different per currency and day."""
    if code == "GBP":
        return Decimal("1")
    phase = sum(ord(ch) for ch in code)
    return Decimal(str(round(1 + 0.02 * math.sin(on.toordinal() / 9.0 + phase), 6)))


def _per_gbp(code: str, on: date) -> Decimal:
    try:
        return REFERENCE_PER_GBP[code] * _drift(code, on)
    except KeyError:
        raise NoRateError(f"no emulated exchange rate for {code}") from None


def day_rate(base: str, quote: str, on: date) -> Decimal:
    """Units of ``quote`` per 1 unit of ``base`` on day ``on``, to six places (1 when they are the same)."""
    if base == quote:
        return Decimal("1")
    return quantize_rate(_per_gbp(quote, on) / _per_gbp(base, on))
