"""Bad debt from the tenant's own history: a provision matrix of P(never collected | unpaid at an age).

An accountant's allowance for doubtful accounts (IFRS 9's simplified approach, CECL's aging method) is a
provision matrix: for each aging bucket, the share of balances still unpaid at that age that were never
collected. Here it is measured on the tenant's own closed invoices and smoothed with a Beta prior, so a
bucket with few past invoices leans on its younger neighbour instead of swinging between 0 and 100%.
The rules (docs/forecasting.md, "Write-offs"):

- **Written off**: closed without payment *after its due date*: voided or deleted after the due date, or
  closed by a credit note dated after the due date and after its last payment. A credit note on or before
  the due date closes a sale that was wrong (pricing, returns), not a debt that went bad: such an invoice
  is left out, as is one voided or deleted by its due date (a cancelled sale, never cash to expect).
- **Collected**: closed by a payment (a payment and a credit note on the same day: collected).
- **Unknown**: still open, or closed on an unknown date. Left out: its outcome is not known yet.
- Only invoices due at least ``MATURE_DAYS`` ago count, so recent cohorts (whose late payers and bad debts
  are still open, hence left out) do not pull the rates down with their early payers alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

# (label, first day past due of the bucket); "current" = not yet due or due today.
BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("current", None), ("1-30", 1), ("31-60", 31), ("61-90", 61), ("91-180", 91), ("180+", 181))
MATURE_DAYS = 180
# The Beta prior of a bucket, as pseudo-invoices: PRIOR_STRENGTH of them at the smoothed rate of the next
# younger bucket (Beta(K m, K (1 - m))): bad debt grows with age, and a bucket with few past invoices should
# look like its neighbour rather than swing to 0 or 100%. "current" starts from BASE_RATE = 0: the rates
# come from the tenant's own ledger, so a tenant that has never written anything off is expected to lose
# nothing (the forecast is then what it was without this module); its first write-offs move every bucket.
PRIOR_STRENGTH = 10
BASE_RATE = 0.0
RATE_PLACES = Decimal("0.0001")
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class PastInvoice:
    """What the ledger says about how one invoice ended (or that it has not)."""

    invoice_id: str
    due_date: date
    status: str  # addon.domain.types.InvoiceStatus values: draft, open, paid, voided, deleted
    closed_on: date | None = None  # voided/deleted: when; paid: fully paid on, if the platform said
    payment_dates: tuple[date, ...] = ()
    credit_dates: tuple[date, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    days_past_due: int  # at closing: the invoice was unpaid at every younger age
    written_off: bool


@dataclass(frozen=True, slots=True)
class BucketRate:
    bucket: str
    rate: Decimal  # P(never collected | still unpaid at this bucket's age), smoothed
    unpaid: int  # past invoices still unpaid at the bucket's first day (the rate's denominator)
    written_off: int  # of those, how many were written off


@dataclass(frozen=True, slots=True)
class BucketAllowance:
    bucket: str
    rate: Decimal
    invoices: int  # open invoices in the bucket today
    balance: Decimal
    allowance: Decimal  # expected never to be collected: balance x rate, per invoice, to the cent


def outcome(inv: PastInvoice) -> Outcome | None:
    """How the invoice ended, or None when it is not history (still open, a cancelled sale, no date)."""
    if inv.status in ("voided", "deleted"):
        if inv.closed_on is None or inv.closed_on <= inv.due_date:
            return None
        return Outcome((inv.closed_on - inv.due_date).days, True)
    if inv.status != "paid":
        return None
    last_payment = max(inv.payment_dates, default=None)
    last_credit = max(inv.credit_dates, default=None)
    if last_credit is not None and (last_payment is None or last_credit > last_payment):
        if last_credit <= inv.due_date:
            return None
        return Outcome((last_credit - inv.due_date).days, True)
    paid_on = last_payment or inv.closed_on  # paid, with no payment rows: the day the platform said
    if paid_on is None:
        return None
    return Outcome((paid_on - inv.due_date).days, False)


def bucket_of(days_past_due: int) -> str:
    label = BUCKETS[0][0]
    for name, first in BUCKETS[1:]:
        if first is not None and days_past_due >= first:
            label = name
    return label


def provision_matrix(history: Iterable[PastInvoice], today: date, *, mature_days: int = MATURE_DAYS,
                     prior_strength: float = PRIOR_STRENGTH, base_rate: float = BASE_RATE) -> list[BucketRate]:
    """P(never collected | still unpaid at each bucket's first day), one row per bucket, youngest first."""
    if prior_strength <= 0 or not 0.0 <= base_rate <= 1.0:
        raise ValueError(f"prior_strength {prior_strength} must be positive and base_rate {base_rate} in [0, 1]")
    cutoff = today - timedelta(days=mature_days)
    outcomes = [o for inv in history if inv.due_date <= cutoff and (o := outcome(inv)) is not None]
    out = []
    prior_mean = base_rate
    for name, first in BUCKETS:
        reached = [o for o in outcomes if first is None or o.days_past_due >= first]
        lost = sum(o.written_off for o in reached)
        rate = (lost + prior_strength * prior_mean) / (len(reached) + prior_strength)
        out.append(BucketRate(name, Decimal(str(rate)).quantize(RATE_PLACES, ROUND_HALF_UP), len(reached), lost))
        prior_mean = rate
    return out


def rate_for(matrix: list[BucketRate], days_past_due: int) -> Decimal:
    """The matrix's rate for an invoice this many days past due today."""
    label = bucket_of(days_past_due)
    return next(row.rate for row in matrix if row.bucket == label)


def allowance(open_items: Iterable[tuple[Decimal, date]], matrix: list[BucketRate],
              today: date) -> list[BucketAllowance]:
    """The allowance for doubtful accounts of (amount due, due date) open invoices, one row per bucket."""
    rates = {row.bucket: row.rate for row in matrix}
    counts = dict.fromkeys(rates, 0)
    balances = dict.fromkeys(rates, Decimal("0"))
    allowances = dict.fromkeys(rates, Decimal("0"))
    for amount, due in open_items:
        label = bucket_of((today - due).days)
        counts[label] += 1
        balances[label] += amount
        allowances[label] += (amount * rates[label]).quantize(CENT, ROUND_HALF_UP)
    return [BucketAllowance(name, rates[name], counts[name], balances[name], allowances[name]) for name, _ in BUCKETS]
