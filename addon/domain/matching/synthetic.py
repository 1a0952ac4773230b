"""Synthetic ledger + bank lines with known truth, for the matching benchmark and tests.

Same seed -> same data. The line mix follows what AR teams report: most payments quote the invoice,
a tail arrives with typos, bare numbers, no reference, several invoices at once, short/over-payments,
bank fees and FX differences, plus lines nobody can place (ambiguous) and lines that are not customer
receipts at all (unrelated).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from addon.domain.types import Allocation, BankLine

from .model import OpenInvoice

# kind -> share of lines; identifiable kinds first.
LINE_MIX: dict[str, float] = {
    "exact": 0.40, "typo": 0.07, "partial_ref": 0.05, "no_ref": 0.12, "partial": 0.04, "multi_ref": 0.04,
    "multi_no_ref": 0.03, "deduction": 0.03, "overpayment": 0.02, "fee": 0.05, "fx": 0.04,
    "ambiguous": 0.05, "unrelated": 0.06,
}
UNIDENTIFIABLE = frozenset({"ambiguous", "unrelated"})

_HEADS = ("Acme", "Northwind", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay",
          "Soylent", "Tyrell", "Cyberdyne", "Wonka", "Monarch", "Oscorp", "Bluth", "Prestige", "Sterling",
          "Massive", "Virtucon", "Aperture", "Zenith", "Harbour", "Meridian", "Falcon", "Granite", "Juniper",
          "Kestrel", "Lumen", "Nimbus", "Orchid", "Pinnacle", "Quarry", "Redwood", "Summit", "Thistle")
_MIDS = ("Bay", "Valley", "River", "Hill", "Park", "Bridge", "Castle", "Forest", "Harvest", "Iron",
         "Lake", "Mill", "North", "Oak", "Pine", "Rose", "Silver", "Stone", "West", "York")
_TAILS = ("Trading", "Foods", "Logistics", "Engineering", "Retail", "Design", "Media", "Supplies",
          "Holdings", "Labs", "Partners", "Services", "Systems", "Works", "Textiles", "Brewing")
_SUFFIXES = ("Ltd", "Limited", "LLC", "Inc", "GmbH", "BV", "plc", "SARL")
_SUFFIX_SWAP = {"Ltd": "LIMITED", "Limited": "LTD", "Inc": "INCORPORATED", "LLC": "L.L.C.", "plc": "PLC",
                "GmbH": "GMBH", "BV": "B.V.", "SARL": "S.A.R.L."}
_UNRELATED = (("HMRC VAT REPAYMENT", "VAT REFUND"), ("BARCLAYS INTEREST", "CREDIT INTEREST"),
              ("STRIPE PAYMENTS UK", "STRIPE PAYOUT"), ("AMAZON PAYMENTS EU", "MARKETPLACE SETTLEMENT"),
              ("J SMITH", "EXPENSES REFUND"), ("INSURANCE CO CLAIMS", "CLAIM SETTLEMENT"),
              ("DIRECTOR LOAN", "LOAN TRANSFER"))
_DEDUCTION_TEXTS = ("less damaged goods", "short paid pricing difference", "promo deduction",
                    "returns deducted", "less early payment discount")
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Truth:
    """What a line really is: its kind and the whole allocation a correct engine would post."""

    kind: str
    allocations: tuple[Allocation, ...] = ()

    @property
    def identifiable(self) -> bool:
        return self.kind not in UNIDENTIFIABLE and bool(self.allocations)


@dataclass(slots=True)
class SyntheticCase:
    invoices: list[OpenInvoice]
    lines: list[tuple[str, BankLine]]
    truths: dict[str, Truth]  # line id -> truth


@dataclass(slots=True)
class _Customer:
    id: str
    name: str
    currency: str
    iban: str
    typical: float
    open: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _Draft:
    """Mutable invoice while the generator still adjusts amounts (twins for ambiguity)."""

    number: str
    customer: _Customer
    cents: int
    issue: date
    due: date


def generate_case(seed: int = 7, *, invoices: int = 100_000, lines: int = 10_000,
                  today: date = date(2026, 11, 1)) -> SyntheticCase:
    """Build a ledger of ``invoices`` open invoices and ``lines`` bank lines with known truth."""
    rng = random.Random(seed)
    customers = _make_customers(rng, max(10, invoices // 20))
    drafts = _make_invoices(rng, customers, invoices, today)
    builder = _LineBuilder(rng, customers, drafts, today)
    kinds = rng.choices(list(LINE_MIX), weights=list(LINE_MIX.values()), k=lines)
    produced = [builder.make(kind, f"L{n:06d}") for n, kind in enumerate(kinds, start=1)]
    open_invoices = [_finish(n, d) for n, d in enumerate(drafts)]
    return SyntheticCase(invoices=open_invoices,
                         lines=[(line_id, line) for line_id, line, _ in produced],
                         truths={line_id: truth for line_id, _, truth in produced})


def _make_customers(rng: random.Random, count: int) -> list[_Customer]:
    seen: set[str] = set()
    out = []
    for i in range(count):
        name = f"{rng.choice(_HEADS)} {rng.choice(_MIDS)} {rng.choice(_TAILS)}"
        for _ in range(100):
            if name not in seen:
                break
            name = f"{rng.choice(_HEADS)} {rng.choice(_MIDS)} {rng.choice(_MIDS)} {rng.choice(_TAILS)}"
        else:
            name = f"{name} {i}"
        seen.add(name)
        currency = "GBP" if rng.random() < 0.8 else rng.choice(("EUR", "USD"))
        iban = f"GB{rng.randrange(10, 99)}NWBK{rng.randrange(10**13, 10**14)}"
        out.append(_Customer(f"C{i + 1:06d}", f"{name} {rng.choice(_SUFFIXES)}", currency, iban,
                             math.exp(rng.gauss(6.5, 1.0))))
    return out


def _make_invoices(rng: random.Random, customers: list[_Customer], count: int, today: date) -> list[_Draft]:
    weights = [min(rng.paretovariate(2.5), 8.0) for _ in customers]
    chosen = rng.choices(customers, weights=weights, k=count)
    drafts = []
    for n, cust in enumerate(chosen, start=1):
        cents = 2500 + round(cust.typical * math.exp(rng.gauss(0, 0.7)) * 100)
        issue = today - timedelta(days=rng.randrange(1, 180))
        drafts.append(_Draft(f"INV-{n:06d}", cust, cents, issue, issue + timedelta(days=rng.choice((14, 30, 60)))))
        cust.open.append(n - 1)
    return drafts


def _finish(n: int, d: _Draft) -> OpenInvoice:
    return OpenInvoice(invoice_id=f"I{n + 1:07d}", number=d.number, customer_id=d.customer.id,
                       customer_name=d.customer.name, currency=d.customer.currency,
                       amount_due=_money(d.cents), issue_date=d.issue, due_date=d.due,
                       customer_accounts=(d.customer.iban,) if int(d.customer.id[1:]) % 3 else ())


def _money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def invoice_id_of(position: int) -> str:
    """The id ``generate_case`` gives the invoice at ``position`` of its ledger."""
    return f"I{position + 1:07d}"


class _LineBuilder:
    """Draws unused invoices and dresses them up as bank lines of a given kind."""

    def __init__(self, rng: random.Random, customers: list[_Customer], drafts: list[_Draft],
                 today: date) -> None:
        self.rng, self.customers, self.drafts, self.today = rng, customers, drafts, today
        self.pool = list(range(len(drafts)))
        rng.shuffle(self.pool)
        self.used: set[int] = set()

    def make(self, kind: str, line_id: str) -> tuple[str, BankLine, Truth]:
        """One line of ``kind`` with its truth."""
        make = getattr(self, f"_{kind}")
        line, truth = make()
        return line_id, line, truth

    # --- drawing invoices -------------------------------------------------------------------------

    def _take(self, min_cents: int = 0) -> int:
        skipped: list[int] = []
        try:
            while self.pool:
                pos = self.pool.pop()
                if pos in self.used:
                    continue
                if self.drafts[pos].cents >= min_cents:
                    self.used.add(pos)
                    return pos
                skipped.append(pos)  # too small for this kind; keep it for another
        finally:
            self.pool[:0] = skipped
        raise ValueError("synthetic ledger too small for the requested number of lines")

    def _take_group(self, size: int) -> list[int]:
        for _ in range(200):
            cust = self.drafts[self._peek()].customer
            free = [p for p in cust.open if p not in self.used]
            if len(free) >= size:
                # A payment run settles invoices that fell due around the same time.
                anchor = self.drafts[self.rng.choice(free)].due
                group = sorted(free, key=lambda p: (abs((self.drafts[p].due - anchor).days), p))[:size]
                self.used.update(group)
                return group
        return [self._take()]

    def _peek(self) -> int:
        return self.pool[self.rng.randrange(len(self.pool))]

    # --- how payers present themselves ------------------------------------------------------------

    def _payer(self, cust: _Customer, *, need_identity: bool = False) -> tuple[str | None, str | None]:
        account = cust.iban if self.rng.random() < 0.6 else None
        style = self.rng.random()
        words = cust.name.split()
        if style < 0.3:
            name: str | None = cust.name
        elif style < 0.55:
            name = " ".join([*words[:-1], _SUFFIX_SWAP.get(words[-1], words[-1])]).upper()
        elif style < 0.65:
            name = " ".join([words[1], words[0], *words[2:]]).upper()
        elif style < 0.8:
            name = cust.name.upper()[:18]
        elif style < 0.9:
            name = _typo_word(self.rng, cust.name)
        else:
            name = None
        if name is None and need_identity:
            name = cust.name
        return name, account

    def _line(self, cents: int, cust: _Customer, *, text: str = "", structured: str | None = None,
              need_identity: bool = False, anonymous: bool = False) -> BankLine:
        name, account = (None, None) if anonymous else self._payer(cust, need_identity=need_identity)
        return BankLine(booking_date=self.today + timedelta(days=self.rng.randrange(0, 5)),
                        amount=_money(cents), currency=cust.currency, counterparty_name=name,
                        counterparty_account=account, structured_reference=structured,
                        remittance_text=text or None)

    def _full(self, *positions: int) -> tuple[Allocation, ...]:
        ordered = sorted(positions, key=lambda p: (self.drafts[p].due, self.drafts[p].number))
        return tuple(Allocation(invoice_id_of(p), _money(self.drafts[p].cents)) for p in ordered)

    def _reference_text(self, number: str) -> tuple[str, str | None]:
        style = self.rng.random()
        if style < 0.3:
            return "", number  # structured creditor reference field
        if style < 0.7:
            return f"{number} thank you", None
        return f"Payment for invoice {number.replace('-', ' ')}", None

    # --- kinds ------------------------------------------------------------------------------------

    def _exact(self) -> tuple[BankLine, Truth]:
        pos = self._take()
        d = self.drafts[pos]
        text, structured = self._reference_text(d.number)
        return self._line(d.cents, d.customer, text=text, structured=structured), Truth("exact", self._full(pos))

    def _typo(self) -> tuple[BankLine, Truth]:
        pos = self._take()
        d = self.drafts[pos]
        line = self._line(d.cents, d.customer, text=f"{_typo_digits(self.rng, d.number)} thanks", need_identity=True)
        return line, Truth("typo", self._full(pos))

    def _partial_ref(self) -> tuple[BankLine, Truth]:
        pos = self._take()
        d = self.drafts[pos]
        digits = d.number.split("-")[1]
        text = f"inv {digits.lstrip('0')}" if self.rng.random() < 0.5 else f"ref {digits}"
        return self._line(d.cents, d.customer, text=text), Truth("partial_ref", self._full(pos))

    def _no_ref(self) -> tuple[BankLine, Truth]:
        pos = self._take()
        d = self.drafts[pos]
        text = self.rng.choice(("", "PAYMENT", "BACS", f"PO {self.rng.randrange(1000, 99999)}"))
        return self._line(d.cents, d.customer, text=text, need_identity=True), Truth("no_ref", self._full(pos))

    def _partial(self) -> tuple[BankLine, Truth]:
        pos = self._take(min_cents=10_000)
        d = self.drafts[pos]
        paid = round(d.cents * self.rng.uniform(0.2, 0.8))
        line = self._line(paid, d.customer, text=f"{d.number} part payment")
        return line, Truth("partial", (Allocation(invoice_id_of(pos), _money(paid)),))

    def _multi_ref(self) -> tuple[BankLine, Truth]:
        group = self._take_group(self.rng.choice((2, 2, 3, 4)))
        numbers = ", ".join(self.drafts[p].number for p in group)
        cents = sum(self.drafts[p].cents for p in group)
        line = self._line(cents, self.drafts[group[0]].customer, text=f"Invoices {numbers}")
        return line, Truth("multi_ref", self._full(*group))

    def _multi_no_ref(self) -> tuple[BankLine, Truth]:
        group = self._take_group(self.rng.choice((2, 2, 3)))
        cents = sum(self.drafts[p].cents for p in group)
        line = self._line(cents, self.drafts[group[0]].customer, text="REMITTANCE", need_identity=True)
        return line, Truth("multi_no_ref", self._full(*group))

    def _deduction(self) -> tuple[BankLine, Truth]:
        pos = self._take(min_cents=20_000)
        d = self.drafts[pos]
        short = round(d.cents * self.rng.choice((0.03, 0.05, 0.1, self.rng.uniform(0.04, 0.15))))
        text = f"{d.number} {self.rng.choice(_DEDUCTION_TEXTS)}"
        line = self._line(d.cents - short, d.customer, text=text)
        return line, Truth("deduction", (Allocation(invoice_id_of(pos), _money(d.cents - short)),))

    def _overpayment(self) -> tuple[BankLine, Truth]:
        pos = self._take()
        d = self.drafts[pos]
        extra = max(100, round(d.cents * self.rng.uniform(0.05, 0.5)))
        line = self._line(d.cents + extra, d.customer, text=d.number)
        return line, Truth("overpayment", self._full(pos))

    def _fee(self) -> tuple[BankLine, Truth]:
        pos = self._take(min_cents=30_000)
        d = self.drafts[pos]
        fee = self.rng.choice((250, 500, 750, 1000, 1200, 1500))
        line = self._line(d.cents - fee, d.customer, text=f"{d.number} /CHGS/")
        return line, Truth("fee", self._full(pos))

    def _fx(self) -> tuple[BankLine, Truth]:
        pos = self._take()
        d = self.drafts[pos]
        factor = 1 + self.rng.choice((-1, 1)) * self.rng.uniform(0.003, 0.018)
        line = self._line(round(d.cents * factor), d.customer, text=f"{d.number} FX")
        return line, Truth("fx", self._full(pos))

    def _ambiguous(self) -> tuple[BankLine, Truth]:
        pos = self._take()
        d = self.drafts[pos]
        twin = next((p for p in d.customer.open if p not in self.used), None)
        if twin is None or self.rng.random() < 0.5:
            # Amount only: nobody can tell whose payment this is.
            return self._line(d.cents, d.customer, anonymous=True), Truth("ambiguous", self._full(pos))
        self.used.add(twin)
        self.drafts[twin].cents = d.cents  # two open invoices of one customer for the same amount
        line = self._line(d.cents, d.customer, text="PAYMENT", need_identity=True)
        return line, Truth("ambiguous", self._full(pos))

    def _unrelated(self) -> tuple[BankLine, Truth]:
        name, text = self.rng.choice(_UNRELATED)
        cents = round(math.exp(self.rng.gauss(6.0, 1.5)) * 100)
        line = BankLine(booking_date=self.today, amount=_money(max(cents, 100)), currency="GBP",
                        counterparty_name=name, remittance_text=text)
        return line, Truth("unrelated")


def _typo_words(rng: random.Random, word: str) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1:]


def _typo_word(rng: random.Random, name: str) -> str:
    words = name.split()
    i = rng.randrange(len(words) - 1)
    words[i] = _typo_words(rng, words[i])
    return " ".join(words)


def _typo_digits(rng: random.Random, number: str) -> str:
    """One substitution, deletion or adjacent transposition in the numeric part of the number."""
    prefix, digits = number.split("-")
    i = rng.randrange(len(digits) - 1)
    op = rng.choice(("sub", "del", "swap"))
    if op == "sub":
        digits = digits[:i] + str((int(digits[i]) + rng.randrange(1, 10)) % 10) + digits[i + 1:]
    elif op == "del":
        digits = digits[:i] + digits[i + 1:]
    elif digits[i] != digits[i + 1]:
        digits = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2:]
    else:
        digits = digits[:i] + str((int(digits[i]) + 1) % 10) + digits[i + 1:]
    return f"{prefix}-{digits}"
