"""Small helpers shared by the QBO emulator tests that read its refusals."""

from __future__ import annotations

from typing import Any

from connectors.quickbooks.emulator.testing import QboSandbox


def fault(answer: Any) -> dict[str, Any]:
    """The first Error of a 400 ValidationFault (asserting it is one)."""
    assert answer.status_code == 400, answer.text
    body = answer.json()["Fault"]
    assert body["type"] == "ValidationFault"
    error: dict[str, Any] = body["Error"][0]
    return error


def customer_id(sandbox: QboSandbox) -> str:
    """The id of the emulated company's first customer."""
    return str(sandbox.store.all("Customer")[0]["Id"])
