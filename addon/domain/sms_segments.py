"""How many SMS segments a text costs (GSM 03.38 vs UCS-2), the limit on a reminder's length.

A text in the GSM 7-bit alphabet fits 160 characters in one segment and 153 per segment once split (the
rest carries the concatenation header); one character outside it (an emoji, a curly quote) turns the
whole text into UCS-2: 70 characters, then 67 per segment. Extension characters (``{}[]~^|\\€``) cost two.
"""

from __future__ import annotations

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")


def is_gsm7(text: str) -> bool:
    return all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text)


def units(text: str) -> int:
    """Septets for a GSM-7 text (extension characters count two), else UTF-16 code units."""
    if is_gsm7(text):
        return sum(2 if ch in GSM_EXTENSION else 1 for ch in text)
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """The segments ``text`` is sent as (0 for an empty text)."""
    single, multi = (160, 153) if is_gsm7(text) else (70, 67)
    n = units(text)
    if n == 0:
        return 0
    return 1 if n <= single else -(-n // multi)


def fit(text: str, max_segments: int) -> str:
    """``text`` cut (on a word boundary where possible, ending "...") to at most ``max_segments``. Three dots,
    not "…": that character is outside the GSM alphabet and would halve what fits."""
    if segments(text) <= max_segments:
        return text
    cut = text
    while cut and segments(cut + "...") > max_segments:
        cut = cut[:-1]
    head = cut.rsplit(" ", 1)[0] if " " in cut[len(cut) // 2:] else cut
    return head.rstrip() + "..."
