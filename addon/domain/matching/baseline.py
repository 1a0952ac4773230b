"""The naive matcher the benchmark compares against: exact invoice reference only."""

from __future__ import annotations

from addon.domain.types import Allocation, BankLine

from .amounts import from_minor, to_minor
from .index import MatchingIndex
from .model import Decision, MatchResult
from .normalize import reference_tokens
from .references import remittance_text


def match_exact_reference(line: BankLine, index: MatchingIndex) -> MatchResult:
    """Post the line to the one invoice whose number appears verbatim, capped at its amount due."""
    if line.reversal or line.amount <= 0:
        return MatchResult(Decision.NONE, 0.0, "not an incoming payment")
    hits = {pos for token in reference_tokens(remittance_text(line)) for pos in index.by_ref.get(token, ())}
    if len(hits) != 1:
        return MatchResult(Decision.NONE, 0.0, f"{len(hits)} exact references")
    pos = hits.pop()
    inv = index.invoices[pos]
    amount = from_minor(min(index.minor[pos], to_minor(line.amount, inv.currency)), inv.currency)
    return MatchResult(Decision.AUTO, 1.0, f"reference {inv.number}",
                       allocations=(Allocation(inv.invoice_id, amount),), customer_id=inv.customer_id)
