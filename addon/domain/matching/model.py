"""Value types of the matching engine: its inputs (open invoices, config, aliases) and its verdicts."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from types import MappingProxyType

from addon.domain.types import Allocation

from .normalize import name_key, normalize_account


class Decision(enum.StrEnum):
    AUTO = "auto"  # post without a human
    SUGGEST = "suggest"  # exception queue, with ranked suggestions
    NONE = "none"  # nothing plausible: stays unmatched


class Residual(enum.StrEnum):
    """Why the allocation does not cover the line amount exactly."""

    PARTIAL = "partial"
    DEDUCTION = "deduction"
    FEE = "fee"
    FX = "fx"
    OVERPAYMENT = "overpayment"


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    """An open receivable as the matcher sees it (a projection of ``types.Invoice`` + contact)."""

    invoice_id: str
    number: str
    customer_id: str
    customer_name: str
    currency: str
    amount_due: Decimal
    issue_date: date
    due_date: date
    customer_accounts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MatchingConfig:
    """Tenant-tunable thresholds; the defaults are the documented ones in docs/reconciliation.md."""

    auto_threshold: float = 0.90  # minimum confidence to post without a human
    min_lead: float = 0.10  # minimum confidence gap to the runner-up allocation
    suggest_floor: float = 0.30  # below this a candidate is not worth showing
    fee_tolerance: Decimal = Decimal("15.00")  # bank charges deducted from a payment, absolute
    fee_tolerance_pct: Decimal = Decimal("0.05")  # ... and at most this share of the amount due
    fx_tolerance_pct: Decimal = Decimal("0.02")  # conversion differences either way
    max_subset_size: int = 4  # invoices one payment may settle when no reference names them (2..4)
    max_subset_pool: int = 80  # open invoices of one customer considered for subset-sum
    max_amount_candidates: int = 8  # amount-bucket hits kept per line (more means "ambiguous")


@dataclass(frozen=True, slots=True)
class AliasBook:
    """Learned payer identities (from admin confirmations): payer name / account -> customer id."""

    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    accounts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def learned(self, customer_id: str, *, payer_name: str | None = None,
                payer_account: str | None = None) -> AliasBook:
        """Return a new book that also maps this payer name and/or account to ``customer_id``."""
        names, accounts = dict(self.names), dict(self.accounts)
        if payer_name and name_key(payer_name):
            names[name_key(payer_name)] = customer_id
        if payer_account and normalize_account(payer_account):
            accounts[normalize_account(payer_account)] = customer_id
        return replace(self, names=MappingProxyType(names), accounts=MappingProxyType(accounts))

    def customer_for_name(self, payer_name: str) -> str | None:
        """The customer a confirmed payer name belongs to, if any."""
        return self.names.get(name_key(payer_name))

    def customer_for_account(self, account: str) -> str | None:
        """The customer a confirmed payer account belongs to, if any."""
        return self.accounts.get(normalize_account(account))


@dataclass(frozen=True, slots=True)
class Candidate:
    """One way to apply a bank line: allocations plus how sure we are and why."""

    allocations: tuple[Allocation, ...]
    confidence: float
    evidence: tuple[str, ...]
    residual: Residual | None = None
    residual_amount: Decimal = Decimal("0")
    deduction_reason: str | None = None
    customer_id: str | None = None
    invoices: tuple[str, ...] = ()  # every invoice the candidate settles, oldest due first

    @property
    def invoice_ids(self) -> frozenset[str]:
        return frozenset(self.invoices) | {a.invoice_id for a in self.allocations}

    @property
    def explanation(self) -> str:
        return "; ".join(self.evidence)


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The verdict for one bank line."""

    decision: Decision
    confidence: float
    explanation: str
    allocations: tuple[Allocation, ...] = ()  # filled only for AUTO
    suggestions: tuple[Candidate, ...] = ()  # ranked, at most three
    residual: Residual | None = None
    residual_amount: Decimal = Decimal("0")
    deduction_reason: str | None = None
    customer_id: str | None = None  # the payer, for posting the payment (ERP contact id)

    @property
    def best(self) -> Candidate | None:
        return self.suggestions[0] if self.suggestions else None
