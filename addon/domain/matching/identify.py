"""Who paid? Customer identity evidence from the payer account, learned aliases and the payer name."""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process

from addon.domain.types import BankLine

from .index import MatchingIndex
from .normalize import name_key, name_tokens

_FUZZY_CUTOFF = 82.0
_MIN_PREFIX = 10  # banks truncate names (often at 18-35 chars); shorter prefixes say too little


@dataclass(frozen=True, slots=True)
class Identity:
    customer_id: str
    strength: float  # 0..1
    evidence: str


def identify_payer(line: BankLine, index: MatchingIndex) -> dict[str, Identity]:
    """Customers the payer may be, strongest evidence per customer."""
    found: dict[str, Identity] = {}
    for ident in (*_by_account(line, index), *_by_name(line, index)):
        if ident.customer_id not in found or ident.strength > found[ident.customer_id].strength:
            found[ident.customer_id] = ident
    return found


def _label(index: MatchingIndex, customer_id: str) -> str:
    info = index.customers.get(customer_id)
    return f"{info.name} ({customer_id})" if info else customer_id


def _by_account(line: BankLine, index: MatchingIndex) -> list[Identity]:
    if not line.counterparty_account:
        return []
    cid = index.customer_for_account(line.counterparty_account)
    if cid is None:
        return []
    return [Identity(cid, 1.0, f"payer account {line.counterparty_account} belongs to {_label(index, cid)}")]


def _by_name(line: BankLine, index: MatchingIndex) -> list[Identity]:
    payer = (line.counterparty_name or "").strip()
    if not payer:
        return []
    alias = index.aliases.customer_for_name(payer)
    if alias is not None:
        return [Identity(alias, 1.0, f"payer name '{payer}' was confirmed as {_label(index, alias)}")]
    exact = index.by_name_key.get(name_key(payer), [])
    if exact:
        # Two customers with the same name are a real ambiguity: both stay, neither is decisive.
        strength = 0.95 if len(exact) == 1 else 0.75
        return [Identity(cid, strength, f"payer name '{payer}' equals customer name {_label(index, cid)}")
                for cid in exact]
    return _fuzzy_name(payer, index)


def _fuzzy_name(payer: str, index: MatchingIndex) -> list[Identity]:
    tokens = name_tokens(payer)
    block = index.name_candidates(tokens)
    if not block:
        return []
    query = " ".join(tokens)
    choices = {cid: index.customers[cid].normalized for cid in block}
    hits = process.extract(query, choices, scorer=fuzz.token_sort_ratio, limit=3, score_cutoff=_FUZZY_CUTOFF)
    found = {cid: Identity(cid, round(0.9 * (score - 80.0) / 20.0, 3),
                           f"payer name '{payer}' resembles {_label(index, cid)} ({score:.0f}%)")
             for _, score, cid in hits}
    if len(query) >= _MIN_PREFIX:
        # Banks truncate names; a long prefix shared by exactly one customer is as good as the name.
        prefixed = [cid for cid, norm in choices.items() if norm.startswith(query) and len(norm) > len(query)]
        strength = 0.9 if len(prefixed) == 1 else 0.6
        for cid in prefixed:
            if cid not in found or found[cid].strength < strength:
                found[cid] = Identity(cid, strength, f"payer name '{payer}' is the start of {_label(index, cid)}")
    return list(found.values())
