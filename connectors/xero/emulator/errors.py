"""The two failures the emulated organisation raises, and the lookup that raises the second: the API
layers answer them as Xero's 400 ValidationException and 404."""

from __future__ import annotations

from typing import TypeVar

R = TypeVar("R")


class XeroValidationError(Exception):
    """A business-rule failure, answered as Xero's 400 ValidationException."""

    def __init__(self, *messages: str, element: dict[str, object] | None = None) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)
        self.element = element or {}


class UnknownEntityError(LookupError):
    """No such entity in this organisation: answered as Xero's 404."""


def lookup(table: dict[str, R], entity_id: str) -> R:
    """Xero ids are GUIDs matched case-insensitively; an unknown one raises UnknownEntityError."""
    try:
        return table[entity_id.lower()]
    except KeyError:
        raise UnknownEntityError(entity_id) from None
