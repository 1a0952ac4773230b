"""Statutory late-payment packs: interest and fixed compensation a supplier may claim on B2B debts.

UK — Late Payment of Commercial Debts (Interest) Act 1998 and the Rate of Interest (No. 3) Order 2002:
simple interest at the reference rate (Bank of England base rate) + 8 percentage points. The reference
rate is the one in force on 31 December for interest that starts to run in January-June, and on 30 June
for interest that starts to run in July-December; it then stays fixed for that debt. Fixed compensation
per invoice: £40 below £1,000, £70 below £10,000, £100 from £10,000.

EU — Directive 2011/7/EU: interest at the reference rate (ECB main refinancing rate) + at least 8
points, where the rate applicable on the first calendar day of each half-year applies for those six
months (so a long debt may span several rates), plus a fixed compensation of at least €40 per invoice.

Reference rates are an input (the tenant keeps the table), never fetched: the domain stays pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
STATUTORY_MARGIN = Decimal("8")  # percentage points over the reference rate, both packs
_DAYS_PER_YEAR = Decimal("365")


@dataclass(frozen=True, slots=True)
class StatutoryClaim:
    pack: str
    days_late: int
    annual_rate: Decimal  # % p.a. (for the EU pack: the rate of the latest half-year)
    interest: Decimal  # in the invoice currency
    compensation: Decimal | None  # in ``compensation_currency``; None when the currency does not match
    compensation_currency: str
    legal_basis: str


class MissingReferenceRateError(ValueError):
    """No reference rate is known for a date the claim needs: the table must be kept current."""


def rate_in_force(rates: Sequence[tuple[date, Decimal]], on: date) -> Decimal:
    """The reference rate (% p.a.) in force on ``on`` from a table of (effective from, rate)."""
    best: tuple[date, Decimal] | None = None
    for effective, rate in rates:
        if effective <= on and (best is None or effective > best[0]):
            best = (effective, rate)
    if best is None:
        raise MissingReferenceRateError(f"no reference rate in force on {on.isoformat()}")
    return best[1]


def uk_compensation(amount: Decimal) -> Decimal:
    """Fixed sum per invoice under the UK Act (section 5A), by size of the debt."""
    if amount < Decimal("1000"):
        return Decimal("40.00")
    if amount < Decimal("10000"):
        return Decimal("70.00")
    return Decimal("100.00")


def uk_claim(amount: Decimal, currency: str, due: date, as_of: date,
             rates: Sequence[tuple[date, Decimal]]) -> StatutoryClaim | None:
    """Interest and compensation under the UK Late Payment Act, or None when not yet late."""
    days = (as_of - due).days
    if days <= 0 or amount <= 0:
        return None
    start = due + timedelta(days=1)  # interest runs from the day after the due date
    fixing = date(start.year - 1, 12, 31) if start.month <= 6 else date(start.year, 6, 30)
    rate = rate_in_force(rates, fixing) + STATUTORY_MARGIN
    interest = _simple_interest(amount, rate, days)
    compensation = uk_compensation(amount) if currency == "GBP" else None
    return StatutoryClaim("uk", days, rate, interest, compensation, "GBP",
                          "Late Payment of Commercial Debts (Interest) Act 1998")


def eu_claim(amount: Decimal, currency: str, due: date, as_of: date,
             rates: Sequence[tuple[date, Decimal]]) -> StatutoryClaim | None:
    """Interest and compensation under Directive 2011/7/EU, or None when not yet late."""
    days = (as_of - due).days
    if days <= 0 or amount <= 0:
        return None
    interest = Decimal("0")
    rate = Decimal("0")
    for start, end in _half_years(due + timedelta(days=1), as_of):
        rate = rate_in_force(rates, _half_year_start(start)) + STATUTORY_MARGIN
        interest += amount * rate / Decimal("100") * Decimal((end - start).days + 1) / _DAYS_PER_YEAR
    compensation = Decimal("40.00") if currency == "EUR" else None
    return StatutoryClaim("eu", days, rate, interest.quantize(CENT, ROUND_HALF_UP), compensation, "EUR",
                          "Directive 2011/7/EU on combating late payment in commercial transactions")


PACKS = {"uk": uk_claim, "eu": eu_claim}


def statutory_claim(pack: str, amount: Decimal, currency: str, due: date, as_of: date,
                    rates: Sequence[tuple[date, Decimal]]) -> StatutoryClaim | None:
    """Dispatch to the named pack ("uk" or "eu")."""
    try:
        compute = PACKS[pack]
    except KeyError:
        raise ValueError(f"unknown statutory pack {pack!r}; choose one of {sorted(PACKS)}") from None
    return compute(amount, currency, due, as_of, rates)


def _simple_interest(amount: Decimal, rate: Decimal, days: int) -> Decimal:
    return (amount * rate / Decimal("100") * Decimal(days) / _DAYS_PER_YEAR).quantize(CENT, ROUND_HALF_UP)


def _half_year_start(day: date) -> date:
    return date(day.year, 1 if day.month <= 6 else 7, 1)


def _half_years(first: date, last: date) -> list[tuple[date, date]]:
    """Split [first, last] (inclusive) at 1 January and 1 July."""
    spans: list[tuple[date, date]] = []
    start = first
    while start <= last:
        nxt = date(start.year, 7, 1) if start.month <= 6 else date(start.year + 1, 1, 1)
        end = min(last, nxt - timedelta(days=1))
        spans.append((start, end))
        start = nxt
    return spans
