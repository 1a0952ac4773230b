"""Cash application: match bank lines to open invoices (pure; see docs/reconciliation.md, "Matching")."""

from __future__ import annotations

from .engine import DEFAULT_CONFIG, match_line, match_lines
from .index import MatchingIndex
from .model import AliasBook, Candidate, Decision, MatchingConfig, MatchResult, OpenInvoice, Residual
from .posting import AdjustmentAccounts, proposed_adjustment, proposed_credit_note, proposed_payment

__all__ = [
    "DEFAULT_CONFIG",
    "AdjustmentAccounts",
    "AliasBook",
    "Candidate",
    "Decision",
    "MatchResult",
    "MatchingConfig",
    "MatchingIndex",
    "OpenInvoice",
    "Residual",
    "match_line",
    "match_lines",
    "proposed_adjustment",
    "proposed_credit_note",
    "proposed_payment",
]
