"""Blocking index over the open ledger, built once per run so each line only touches its candidates.

Blocks: invoice-reference keys (exact, numeric part, one-edit typo neighbours), customer identity
(account, learned alias, exact name key, name words for fuzzy lookup) and amount buckets (amounts
in each currency's minor units, sorted per currency and per customer, queried by range for fee/FX tolerances).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .amounts import to_minor
from .model import AliasBook, OpenInvoice
from .normalize import (
    deletion_variants,
    digit_keys,
    name_key,
    name_tokens,
    normalize_account,
    normalize_name,
    reference_key,
)

_MIN_TYPO_KEY = 5  # shorter keys have too many one-edit neighbours to be evidence


@dataclass(slots=True)
class AmountBucket:
    """Invoice positions sorted by amount due, for range queries."""

    minor: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)

    def between(self, lo: int, hi: int) -> list[int]:
        """Positions whose amount due lies in [lo, hi]."""
        left = bisect.bisect_left(self.minor, lo)
        right = bisect.bisect_right(self.minor, hi)
        return self.positions[left:right]


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    customer_id: str
    name: str
    normalized: str  # words in order, legal forms dropped
    key: str  # sorted words


@dataclass(slots=True)
class MatchingIndex:
    """Everything the engine looks up per line; build with :meth:`build`."""

    invoices: list[OpenInvoice]
    minor: list[int]  # amount due in minor units of the invoice's own currency
    ref_keys: list[str]  # canonical invoice number per position
    by_ref: dict[str, list[int]]
    by_digits: dict[str, list[int]]
    by_ref_deletion: dict[str, list[int]]
    customers: dict[str, CustomerInfo]
    by_name_key: dict[str, list[str]]
    by_name_token: dict[str, list[str]]
    by_account: dict[str, str]
    aliases: AliasBook
    amounts: dict[str, AmountBucket]  # currency -> bucket
    customer_amounts: dict[str, AmountBucket]  # customer id -> bucket
    customer_by_due: dict[str, list[int]]  # customer id -> positions, oldest due first

    @classmethod
    def build(cls, invoices: Iterable[OpenInvoice], aliases: AliasBook | None = None) -> MatchingIndex:
        """Index the open invoices (amount due > 0) and the learned aliases."""
        open_invoices = [inv for inv in invoices if inv.amount_due > 0]
        index = cls(invoices=open_invoices, minor=[to_minor(i.amount_due, i.currency) for i in open_invoices],
                     ref_keys=[reference_key(i.number) for i in open_invoices],
                     by_ref={}, by_digits={}, by_ref_deletion={}, customers={}, by_name_key={},
                     by_name_token={}, by_account={}, aliases=aliases or AliasBook(), amounts={},
                     customer_amounts={}, customer_by_due={})
        index._index_references()
        index._index_customers()
        index._index_amounts()
        return index

    def _index_references(self) -> None:
        by_ref: defaultdict[str, list[int]] = defaultdict(list)
        by_digits: defaultdict[str, list[int]] = defaultdict(list)
        by_del: defaultdict[str, list[int]] = defaultdict(list)
        for pos, (inv, key) in enumerate(zip(self.invoices, self.ref_keys, strict=True)):
            if not key:
                continue
            by_ref[key].append(pos)
            for digits in digit_keys(inv.number):
                if digits != key:
                    by_digits[digits].append(pos)
            if len(key) >= _MIN_TYPO_KEY:
                for variant in deletion_variants(key):
                    by_del[variant].append(pos)
        self.by_ref, self.by_digits, self.by_ref_deletion = dict(by_ref), dict(by_digits), dict(by_del)

    def _index_customers(self) -> None:
        by_key: defaultdict[str, list[str]] = defaultdict(list)
        by_token: defaultdict[str, list[str]] = defaultdict(list)
        for inv in self.invoices:
            if inv.customer_id in self.customers:
                continue
            info = CustomerInfo(inv.customer_id, inv.customer_name, normalize_name(inv.customer_name),
                                name_key(inv.customer_name))
            self.customers[inv.customer_id] = info
            by_key[info.key].append(info.customer_id)
            for token in set(name_tokens(inv.customer_name)):
                by_token[token].append(info.customer_id)
            for account in inv.customer_accounts:
                self.by_account.setdefault(normalize_account(account), inv.customer_id)
        self.by_name_key, self.by_name_token = dict(by_key), dict(by_token)

    def _index_amounts(self) -> None:
        per_currency: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
        per_customer: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
        for pos, inv in enumerate(self.invoices):
            per_currency[inv.currency.upper()].append((self.minor[pos], pos))
            per_customer[inv.customer_id].append((self.minor[pos], pos))
        self.amounts = {cur: _bucket(rows) for cur, rows in per_currency.items()}
        self.customer_amounts = {cid: _bucket(rows) for cid, rows in per_customer.items()}
        self.customer_by_due = {
            cid: sorted((pos for _, pos in rows), key=lambda p: (self.invoices[p].due_date, p))
            for cid, rows in per_customer.items()
        }

    def customer_for_account(self, account: str) -> str | None:
        """Customer owning this payer account: learned alias first, then the ledger's contact data."""
        return self.aliases.customer_for_account(account) or self.by_account.get(normalize_account(account))

    def name_candidates(self, tokens: Sequence[str], limit: int = 400) -> list[str]:
        """Customers sharing a name word with the payer, rarest words first (fuzzy-scoring block)."""
        postings = sorted((self.by_name_token[t] for t in set(tokens) if t in self.by_name_token), key=len)
        seen: dict[str, None] = {}
        for posting in postings:
            for cid in posting:
                seen.setdefault(cid, None)
            if len(seen) >= limit:
                break
        return list(seen)[:limit]


def _bucket(rows: list[tuple[int, int]]) -> AmountBucket:
    rows.sort()
    return AmountBucket(minor=[c for c, _ in rows], positions=[p for _, p in rows])
