"""Text normalisation for matching: payer names, accounts and invoice-reference tokens."""

from __future__ import annotations

import itertools
import re
import unicodedata

# Legal-form words say nothing about who paid; banks also add, drop or abbreviate them freely.
LEGAL_SUFFIXES = frozenset({
    "ltd", "limited", "llc", "llp", "lp", "inc", "incorporated", "corp", "corporation", "co", "company",
    "gmbh", "ag", "kg", "bv", "nv", "plc", "sarl", "sa", "sas", "srl", "spa", "pty", "oy", "ab", "as",
    "the", "and", "und", "et", "cie",
})
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_ALNUM_RUN = re.compile(r"[0-9A-Z]+")
_DIGITS = re.compile(r"[0-9]+")
_MIN_REF_LEN = 3


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def name_tokens(name: str) -> list[str]:
    """Lower-case, accent-free name words without legal forms (``Acme Trading Ltd.`` -> acme, trading)."""
    words = _NON_ALNUM.sub(" ", _fold(name.replace("&", " and ").replace(".", ""))).split()
    kept = [w for w in words if w not in LEGAL_SUFFIXES]
    return kept or words


def normalize_name(name: str) -> str:
    """Name words in their original order, legal forms removed (used for prefix/truncation checks)."""
    return " ".join(name_tokens(name))


def name_key(name: str) -> str:
    """Order-insensitive exact key of a name: ``TRADING ACME LIMITED`` == ``Acme Trading Ltd``."""
    return " ".join(sorted(name_tokens(name)))


def normalize_account(account: str) -> str:
    """IBAN/account number without spaces or punctuation, upper case."""
    return re.sub(r"[^0-9A-Z]", "", account.upper())


def reference_key(number: str) -> str:
    """Canonical form of an invoice number: alphanumerics only, upper case (INV-000123 -> INV000123)."""
    return "".join(_ALNUM_RUN.findall(number.upper()))


def digit_keys(number: str) -> tuple[str, ...]:
    """The numeric part of an invoice number, with and without leading zeros (000123, 123)."""
    runs = _DIGITS.findall(number)
    if not runs:
        return ()
    run = max(runs, key=len)
    keys = {run, run.lstrip("0")}
    return tuple(sorted(k for k in keys if len(k) >= _MIN_REF_LEN))


def deletion_variants(key: str) -> set[str]:
    """All strings one character shorter than ``key`` (symmetric-delete typo blocking)."""
    return {key[:i] + key[i + 1:] for i in range(len(key))}


def reference_tokens(text: str) -> set[str]:
    """Candidate reference strings in free text: each alphanumeric run and each adjacent pair.

    Pairs catch numbers split by the payer or the bank (``INV 000123``, ``INV-000123``, ``INV/000123``).
    """
    runs = _ALNUM_RUN.findall(_fold(text).upper())
    tokens = {r for r in runs if len(r) >= _MIN_REF_LEN}
    tokens.update(a + b for a, b in itertools.pairwise(runs) if len(a) + len(b) >= _MIN_REF_LEN)
    return tokens
