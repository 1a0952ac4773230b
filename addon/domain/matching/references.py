"""Which invoices does the remittance information name? Exact, numeric-only and one-typo references."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from addon.domain.types import BankLine

from .index import MatchingIndex
from .normalize import deletion_variants, reference_tokens

EXACT, NUMERIC, TYPO, SHORT_NUMERIC, SHADOWED_TYPO = 1.0, 0.85, 0.75, 0.6, 0.5
_MIN_TYPO_TOKEN = 5


@dataclass(frozen=True, slots=True)
class RefHit:
    position: int
    strength: float
    token: str
    kind: str  # "exact" | "numeric" | "typo"


def remittance_text(line: BankLine) -> str:
    """All payer-supplied reference fields of a line, in one string."""
    parts = (line.structured_reference, line.end_to_end_id, line.remittance_text)
    return " ".join(p for p in parts if p)


def find_references(text: str, index: MatchingIndex,
                    amount_fits: Callable[[int], bool] = lambda pos: False) -> dict[int, RefHit]:
    """Invoice positions named in ``text``, strongest hit per invoice.

    Typo neighbours are looked up only for tokens whose verbatim hits do not fit the amount
    (``amount_fits(position)``): a verbatim reference with a fitting amount needs no second guess.
    """
    hits: dict[int, RefHit] = {}

    def add(pos: int, strength: float, token: str, kind: str) -> None:
        if pos not in hits or strength > hits[pos].strength:
            hits[pos] = RefHit(pos, strength, token, kind)

    for token in reference_tokens(text):
        for pos in index.by_ref.get(token, ()):
            add(pos, EXACT, token, "exact")
        # A bare short number (a quantity, a year) is weak evidence; a long or zero-padded one is not.
        numeric = NUMERIC if len(token) >= _MIN_TYPO_TOKEN else SHORT_NUMERIC
        for key in {token, token.lstrip("0")}:
            for pos in index.by_digits.get(key, ()):
                add(pos, numeric, token, "numeric")
        verbatim = index.by_ref.get(token, ())
        if any(amount_fits(pos) for pos in verbatim):
            continue
        if len(token) >= _MIN_TYPO_TOKEN and any(ch.isdigit() for ch in token):
            # A token that names an invoice verbatim is only a typo of another one if the amount says so.
            typo = SHADOWED_TYPO if verbatim else TYPO
            for pos in _typo_neighbours(token, index):
                add(pos, typo, token, "typo")
    return hits


def is_typo_of(token: str, key: str) -> bool:
    """Could ``token`` be a one-edit typo (or a verbatim copy) of the invoice key ``key``?"""
    if len(token) < _MIN_TYPO_TOKEN or not any(ch.isdigit() for ch in token):
        return token == key
    return OSA.distance(token, key, score_cutoff=1) <= 1


def _typo_neighbours(token: str, index: MatchingIndex) -> set[int]:
    # Symmetric delete: a shared one-deletion variant covers substitution, insertion, deletion and
    # adjacent transposition; OSA distance then drops the false positives of that blocking.
    found: set[int] = set(index.by_ref_deletion.get(token, ()))
    for variant in deletion_variants(token):
        found.update(index.by_ref.get(variant, ()))
        found.update(index.by_ref_deletion.get(variant, ()))
    keys = index.ref_keys
    return {pos for pos in found if OSA.distance(token, keys[pos], score_cutoff=1) <= 1}
