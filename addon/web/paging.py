"""Which slice of a long list a page shows (``?page=N``): pages never render thousands of rows at once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Paging:
    """Page ``number`` (1-based) of ``total`` rows, ``size`` rows a page."""

    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def first_row(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last_row(self) -> int:
        return min(self.offset + self.size, self.total)


def paging(raw: str | None, size: int, total: int) -> Paging:
    """The page asked for in ``?page=``; anything odd (text, 0, beyond the last page) gives the nearest real page."""
    text = (raw or "").strip()
    asked = int(text) if text.isdecimal() and len(text) < 10 else 1
    last = max(1, -(-total // size))
    return Paging(min(max(asked, 1), last), size, total)
