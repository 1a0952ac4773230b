"""Seeded company generator: customers with distinct payment behaviours and 24+ months of history.

Platform-neutral: the Xero and QBO emulators serialise the same company in their own wire formats,
the risk model trains on it, and benchmarks size it up to 100k+ invoices. Same seed -> same company.

Behaviours (how many days after the due date a customer pays):
- reliable:      on time or a little early, rarely late
- slow:          habitually 2-5 weeks late
- seasonal:      on time most of the year, late around year end and in summer
- deteriorating: on time at first, delays grow month by month (a customer in trouble)
- disputing:     often disputes, short-pays with a credit note, pays late

Write-offs (``write_offs=True``, what the emulators serve): a small share of the invoices of customers in
trouble are never paid; 90-180 days past due they are voided (only invoices nothing was paid or credited
on: see _maybe_write_off). Off by default: the risk model's history (``cashline model generate-history``)
and its targets are measured on the company without them. Drawn from their own random stream, after
everything else, so every other invoice, payment and credit note is the same with or without them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

BEHAVIOURS = ("reliable", "slow", "seasonal", "deteriorating", "disputing")

# Several behaviour mixes so models are never tuned to one population.
MIXES: dict[str, dict[str, float]] = {
    "balanced": {"reliable": 0.4, "slow": 0.2, "seasonal": 0.15, "deteriorating": 0.1, "disputing": 0.15},
    "mostly_reliable": {"reliable": 0.7, "slow": 0.1, "seasonal": 0.1, "deteriorating": 0.05, "disputing": 0.05},
    "distressed": {"reliable": 0.2, "slow": 0.3, "seasonal": 0.1, "deteriorating": 0.25, "disputing": 0.15},
}

TERMS_DAYS = (7, 14, 30, 30, 30, 45, 60)
CURRENCY_WEIGHTS = {"GBP": 0.6, "EUR": 0.25, "USD": 0.15}
# Share of a customer's invoices it never pays, by behaviour. A deteriorating customer's share grows with
# its trouble (per month since the history starts, capped); the others' is flat. Reliable and seasonal
# customers pay everything.
WRITE_OFF_SHARE = {"slow": 0.01, "disputing": 0.03}
WRITE_OFF_SHARE_PER_MONTH = {"deteriorating": 0.008}
WRITE_OFF_CAP = 0.2
WRITE_OFF_AFTER_DAYS = (90, 180)  # days past due when an unpaid invoice is given up
CENT = Decimal("0.01")

_NAME_HEADS = ("Acme", "Northwind", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli",
               "Vandelay", "Soylent", "Tyrell", "Cyberdyne", "Wonka", "Gringotts", "Monarch", "Oscorp",
               "Pied Piper", "Dunder", "Bluth", "Prestige", "Sterling", "Massive", "Virtucon", "Aperture")
_NAME_TAILS = ("Trading", "Foods", "Logistics", "Engineering", "Retail", "Design", "Media", "Supplies",
               "Holdings", "Labs", "Partners", "Services", "Systems", "Works")
_SUFFIXES = ("Ltd", "Limited", "LLC", "Inc", "GmbH", "BV", "plc", "SARL")
_TIMEZONES = ("Europe/London", "Europe/Amsterdam", "America/New_York", "Australia/Sydney")


@dataclass(frozen=True, slots=True)
class SandboxCustomer:
    id: str
    name: str
    email: str
    currency: str
    behaviour: str
    iban: str
    timezone: str
    typical_amount: Decimal
    # Phones as the company's bookkeeper typed them (national format of the company's country); most
    # customers have a mobile, some only a landline, some none (see sandbox_phone).
    phone: SandboxPhone | None = None
    # The billing address as the bookkeeper typed it: the country is free text ("United Kingdom", "UK",
    # "Nederland"), mostly in the customer's own timezone's country, some abroad (see sandbox_address).
    address: SandboxAddress | None = None


@dataclass(frozen=True, slots=True)
class SandboxAddress:
    line1: str
    city: str
    region: str  # "" where the country's addresses have none
    postal_code: str
    country: str  # free text, as typed; connectors.countries reads it
    country_code: str  # what it means (ISO 3166 alpha-2), for tests


@dataclass(frozen=True, slots=True)
class SandboxPhone:
    kind: str  # "mobile" or "landline"
    country_code: str  # "44"
    area: str  # "7911" (no trunk prefix)
    number: str  # "123456"
    national: str  # "07911 123456", as typed into a free-form field


@dataclass(frozen=True, slots=True)
class SandboxPayment:
    id: str
    invoice_id: str
    customer_id: str
    date: date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class SandboxCreditNote:
    id: str
    number: str
    invoice_id: str
    customer_id: str
    date: date
    amount: Decimal
    reason: str


@dataclass(slots=True)
class SandboxInvoice:
    id: str
    number: str
    customer_id: str
    currency: str
    issue_date: date
    due_date: date
    total: Decimal
    sent: bool
    disputed: bool = False
    voided: bool = False
    paid_date: date | None = None  # date it was fully settled (payments + credits), None if open
    # Never to be paid: the day it was (or will be, if after ``today``) voided as bad debt.
    written_off_on: date | None = None
    payments: list[SandboxPayment] = field(default_factory=list)
    credit_notes: list[SandboxCreditNote] = field(default_factory=list)

    @property
    def amount_paid(self) -> Decimal:
        return sum((p.amount for p in self.payments), Decimal("0"))

    @property
    def amount_credited(self) -> Decimal:
        return sum((c.amount for c in self.credit_notes), Decimal("0"))

    @property
    def amount_due(self) -> Decimal:
        if self.voided:
            return Decimal("0")
        return self.total - self.amount_paid - self.amount_credited


# The country a sandbox company with this base currency is in (Xero Organisation.CountryCode, QBO
# CompanyInfo.Country), unless an emulator is told otherwise.
COUNTRY_OF_CURRENCY = {"GBP": "GB", "USD": "US", "EUR": "IE", "NZD": "NZ", "AUD": "AU", "CAD": "CA",
                       "ZAR": "ZA", "CHF": "CH", "JPY": "JP"}


def country_of_currency(currency: str) -> str:
    return COUNTRY_OF_CURRENCY.get(currency, "GB")


@dataclass(slots=True)
class SandboxCompany:
    name: str
    base_currency: str
    today: date
    seed: int
    customers: list[SandboxCustomer]
    invoices: list[SandboxInvoice]
    history_start: date  # the first day invoices could be issued (deteriorating customers decline from it)

    @property
    def payments(self) -> list[SandboxPayment]:
        return [p for inv in self.invoices for p in inv.payments]

    @property
    def credit_notes(self) -> list[SandboxCreditNote]:
        return [c for inv in self.invoices for c in inv.credit_notes]

    def customer(self, customer_id: str) -> SandboxCustomer:
        return self._by_id()[customer_id]

    def _by_id(self) -> dict[str, SandboxCustomer]:
        return {c.id: c for c in self.customers}


def generate_company(seed: int = 7, *, customers: int = 40, invoices: int = 1500, months: int = 26,
                     today: date = date(2026, 11, 1), mix: str = "balanced",
                     name: str | None = None, base_currency: str = "GBP", write_offs: bool = False) -> SandboxCompany:
    """Build a deterministic company: ``customers`` with behaviours drawn from ``mix`` and
    ``invoices`` spread over the last ``months`` months before ``today`` (with bad debt written off when
    ``write_offs``)."""
    if mix not in MIXES:
        raise ValueError(f"unknown mix {mix!r}; choose one of {sorted(MIXES)}")
    rng = random.Random(seed)
    custs = [_make_customer(rng, i, MIXES[mix], base_currency) for i in range(customers)]
    weights = [rng.paretovariate(1.3) for _ in custs]  # a few big customers, a long tail
    start = today - timedelta(days=int(months * 30.44))
    span = (today - start).days
    issue_days = sorted(rng.randrange(span) for _ in range(invoices))
    chosen = rng.choices(range(customers), weights=weights, k=invoices)
    out = [
        _make_invoice(rng, n, custs[ci], start + timedelta(days=offset), start, today)
        for n, (offset, ci) in enumerate(zip(issue_days, chosen, strict=True), start=1)
    ]
    if write_offs:
        by_id = {c.id: c for c in custs}
        bad_debt = random.Random(f"write-offs {seed}")  # its own stream: the rest of the company is unchanged
        for inv in out:
            _maybe_write_off(bad_debt, inv, by_id[inv.customer_id], start, today)
    return SandboxCompany(name=name or f"Sandbox Company {seed}", base_currency=base_currency,
                          today=today, seed=seed, customers=custs, invoices=out, history_start=start)


def _make_customer(rng: random.Random, i: int, mix: dict[str, float], base_currency: str) -> SandboxCustomer:
    behaviour = rng.choices(list(mix), weights=list(mix.values()))[0]
    head, tail, suffix = rng.choice(_NAME_HEADS), rng.choice(_NAME_TAILS), rng.choice(_SUFFIXES)
    name = f"{head} {tail} {suffix}" if i < 200 else f"{head} {tail} {i} {suffix}"
    slug = "".join(ch for ch in f"{head}{tail}{i}".lower() if ch.isalnum())
    currency = base_currency if rng.random() < 0.8 else rng.choices(
        list(CURRENCY_WEIGHTS), weights=list(CURRENCY_WEIGHTS.values()))[0]
    typical = Decimal(str(round(math.exp(rng.gauss(7.0, 1.0)), 2)))
    iban = f"GB{rng.randrange(10, 99)}NWBK{rng.randrange(10**13, 10**14)}"
    zone = rng.choice(_TIMEZONES)
    return SandboxCustomer(id=f"C{i + 1:05d}", name=name, email=f"ap@{slug}.example", currency=currency,
                           behaviour=behaviour, iban=iban, timezone=zone,
                           typical_amount=typical, phone=sandbox_phone(name, base_currency),
                           address=sandbox_address(name, zone))


# Where a sandbox customer's address is: (city, region, postal code pattern) per country, and the ways a
# bookkeeper writes the country (names, codes, the local name).
_PLACES = {
    "GB": (("London", "", "EC1A {n}AB"), ("Manchester", "", "M1 {n}AE")),
    "NL": (("Amsterdam", "", "10{n}{n} AB"), ("Rotterdam", "", "30{n}{n} CD")),
    "US": (("New York", "NY", "100{n}{n}"), ("Boston", "MA", "021{n}{n}")),
    "AU": (("Sydney", "NSW", "20{n}{n}"), ("Melbourne", "VIC", "30{n}{n}")),
    "DE": (("Berlin", "", "101{n}{n}"), ("München", "", "803{n}{n}")),
    "IE": (("Dublin", "", "D0{n} X{n}Y{n}"),),
}
_COUNTRY_SPELLINGS = {
    "GB": ("United Kingdom", "UK", "GB", "England"), "NL": ("Netherlands", "Nederland", "NL"),
    "US": ("United States", "USA", "US"), "AU": ("Australia", "AU"), "DE": ("Germany", "Deutschland", "DE"),
    "IE": ("Ireland", "IE"),
}
_ZONE_COUNTRY = {"Europe/London": "GB", "Europe/Amsterdam": "NL", "America/New_York": "US", "Australia/Sydney": "AU"}


def sandbox_address(name: str, timezone: str) -> SandboxAddress | None:
    """A billing address, drawn from its own random stream (seeded by the customer's name, as
    ``sandbox_phone``) so that adding addresses left every other generated value unchanged: 90% have one, in
    the country of the customer's timezone, or 15% of those abroad (Germany or Ireland); 10% none."""
    rng = random.Random(f"address {name}")
    if rng.random() >= 0.90:
        return None
    country = _ZONE_COUNTRY.get(timezone, "GB")
    if rng.random() < 0.15:
        country = rng.choice(("DE", "IE"))
    city, region, pattern = rng.choice(_PLACES[country])
    postal = pattern.replace("{n}", "{}").format(*(rng.randrange(10) for _ in range(pattern.count("{n}"))))
    line1 = f"{rng.randrange(1, 200)} {rng.choice(('High Street', 'Station Road', 'Main Street', 'Market Square'))}"
    return SandboxAddress(line1, city, region, postal, rng.choice(_COUNTRY_SPELLINGS[country]), country)


def sandbox_phone(name: str, base_currency: str) -> SandboxPhone | None:
    """A realistic, valid number in the company's country, drawn from its own random stream (seeded by the
    customer's name) so that adding phones left every other generated value unchanged: 70% a mobile, 15%
    only a landline, 15% none."""
    rng = random.Random(f"phone {name}")
    roll = rng.random()
    if roll >= 0.85:
        return None
    kind = "mobile" if roll < 0.70 else "landline"
    country = country_of_currency(base_currency)
    if country in ("US", "CA"):
        area = rng.choice(("415", "212", "312", "617")) if kind == "mobile" else rng.choice(("202", "305"))
        number = f"{rng.randrange(200, 999)}{rng.randrange(10**4):04d}"
        return SandboxPhone(kind, "1", area, number, f"({area}) {number[:3]}-{number[3:]}")
    if country == "IE":
        area = rng.choice(("85", "86", "87")) if kind == "mobile" else "1"
        number = f"{rng.randrange(2 * 10**6, 10**7)}"
        return SandboxPhone(kind, "353", area, number, f"0{area} {number[:3]} {number[3:]}")
    # The UK's plan, also for the other sandbox countries (their customers are British-run businesses).
    area = f"7{rng.randrange(400, 999)}" if kind == "mobile" else "20"
    number = f"{rng.randrange(10**5, 10**6)}" if kind == "mobile" else f"7946{rng.randrange(10**4):04d}"
    return SandboxPhone(kind, "44", area, number, f"0{area} {number}")


def payment_delay_days(rng: random.Random, customer: SandboxCustomer, issue: date, start: date,
                       amount_ratio: float) -> int:
    """Days after the due date this customer pays this invoice (negative = early)."""
    b = customer.behaviour
    size_effect = 4.0 * math.log(max(amount_ratio, 0.05))  # big invoices go through more approval
    if b == "reliable":
        delay = rng.gauss(-2, 3) + (rng.random() < 0.05) * rng.expovariate(1 / 12)
    elif b == "slow":
        delay = rng.gauss(22, 9)
    elif b == "seasonal":
        late_season = issue.month in (11, 12, 1, 7, 8)
        delay = rng.gauss(25, 8) if late_season else rng.gauss(0, 4)
    elif b == "deteriorating":
        months_in = (issue - start).days / 30.44
        delay = rng.gauss(-1 + 2.2 * months_in, 5)
    else:  # disputing
        delay = rng.gauss(15, 12)
    return round(delay + size_effect)


def settlement_days(rng: random.Random, customer: SandboxCustomer, issue: date, due: date, start: date,
                    amount_ratio: float) -> tuple[int, bool]:
    """Days after the due date this invoice is settled (never before its issue date), and whether it is
    disputed (a dispute adds 10-39 days). One draw of the process the generator uses, so that
    ``bench/oracle.py`` can sample an invoice's true payment-day distribution from it."""
    delay = payment_delay_days(rng, customer, issue, start, amount_ratio)
    disputed = (customer.behaviour == "disputing" and rng.random() < 0.25) or rng.random() < 0.01
    days = delay + (rng.randrange(10, 40) if disputed else 0)
    return max(days, (issue - due).days), disputed


def _make_invoice(rng: random.Random, n: int, cust: SandboxCustomer, issue: date, start: date,
                  today: date) -> SandboxInvoice:
    total = (cust.typical_amount * Decimal(str(math.exp(rng.gauss(0, 0.6))))).quantize(CENT, ROUND_HALF_UP)
    total = max(total, Decimal("25.00"))
    due = issue + timedelta(days=rng.choice(TERMS_DAYS))
    inv = SandboxInvoice(id=f"I{n:07d}", number=f"INV-{n:06d}", customer_id=cust.id, currency=cust.currency,
                         issue_date=issue, due_date=due, total=total, sent=rng.random() < 0.9)
    if rng.random() < 0.01:
        inv.voided = True
        return inv
    days, inv.disputed = settlement_days(rng, cust, issue, due, start, float(total / cust.typical_amount))
    settle = due + timedelta(days=days)
    remaining = total
    if inv.disputed and rng.random() < 0.6:
        credit = (total * Decimal(str(rng.choice((0.05, 0.1, 0.2))))).quantize(CENT, ROUND_HALF_UP)
        credit_date = min(settle, today)
        if credit_date <= today and (settle - timedelta(days=5)) <= today:
            inv.credit_notes.append(SandboxCreditNote(
                id=f"CN{n:07d}", number=f"CN-{n:06d}", invoice_id=inv.id, customer_id=cust.id,
                date=max(issue, credit_date - timedelta(days=5)), amount=credit,
                reason=rng.choice(("pricing", "damaged goods", "short delivery"))))
            remaining -= credit
    if rng.random() < 0.12:  # partial payment first, the rest at settlement
        part_date = max(issue, settle - timedelta(days=rng.randrange(7, 30)))
        part = (remaining * Decimal(str(rng.choice((0.25, 0.4, 0.5))))).quantize(CENT, ROUND_HALF_UP)
        if part_date <= today:
            inv.payments.append(SandboxPayment(f"P{n:07d}a", inv.id, cust.id, part_date, part))
            remaining -= part
    if settle <= today:
        inv.payments.append(SandboxPayment(f"P{n:07d}", inv.id, cust.id, settle, remaining))
        inv.paid_date = settle
    return inv


def write_off_share(customer: SandboxCustomer, issue: date, start: date) -> float:
    """Chance that this customer never pays an invoice issued on ``issue``."""
    months_in = (issue - start).days / 30.44
    per_month = WRITE_OFF_SHARE_PER_MONTH.get(customer.behaviour, 0.0)
    return min(WRITE_OFF_CAP, WRITE_OFF_SHARE.get(customer.behaviour, 0.0) + per_month * months_in)


def _maybe_write_off(rng: random.Random, inv: SandboxInvoice, cust: SandboxCustomer, start: date,
                     today: date) -> None:
    # Both draws for every invoice, so whether one invoice is written off never shifts another's draws.
    hit = rng.random() < write_off_share(cust, inv.issue_date, start)
    when = inv.due_date + timedelta(days=rng.randint(*WRITE_OFF_AFTER_DAYS))
    # Only an invoice nothing was paid or credited on before the write-off: it is voided. One with a part
    # payment would be credited in full instead; the generator does not make that case (the dashboard's
    # tests cover it on the mirror directly, and tests/addon/test_qbo_credit_applications.py the QBO sync).
    partial = inv.payments[:-1] if inv.paid_date is not None else inv.payments  # the last one settled it
    if not hit or inv.voided or any(p.date < when for p in partial) or any(c.date < when for c in inv.credit_notes):
        return
    inv.payments, inv.credit_notes = [], []  # the customer never pays it
    inv.paid_date, inv.written_off_on = None, when
    inv.voided = when <= today  # still open today if it is to be written off later
