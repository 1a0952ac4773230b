"""Fixtures for the QBO emulator and connector: a small seeded company served on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from addon.domain.types import TokenSet
from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.emulator.testing import QboSandbox, UserApi, authorize, make_connector, start_qbo_emulator
from connectors.tokens import InMemoryTokenStore
from tests.paths import SPECS


@pytest.fixture
def open_invoice(sandbox: QboSandbox) -> dict[str, Any]:
    """An invoice with a positive balance in the seeded company."""
    return next(i for i in sandbox.store.all("Invoice") if i["Balance"] > 0)


@pytest.fixture
def specs() -> Path:
    return SPECS


@pytest.fixture
def sandbox() -> Iterator[QboSandbox]:
    with start_qbo_emulator(seed=7, customers=6, invoices=100, custom_fields={"1": "Cashline Risk"}) as sb:
        yield sb


@pytest.fixture
def tokens(sandbox: QboSandbox) -> TokenSet:
    return authorize(sandbox)


@pytest.fixture
def token_store(tokens: TokenSet) -> InMemoryTokenStore:
    return InMemoryTokenStore(tokens)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def connector(sandbox: QboSandbox, token_store: InMemoryTokenStore, sleeps: list[float]) -> QuickBooksConnector:
    return make_connector(sandbox, token_store, sleep=sleeps.append)


@pytest.fixture
def api(sandbox: QboSandbox, tokens: TokenSet) -> UserApi:
    return sandbox.user_api(tokens.access_token)


@pytest.fixture(scope="session")
def finance_schema() -> Any:
    """Intuit's Finance.xsd (and the schemas it includes), loaded once: it is 500 KB."""
    import xmlschema

    return xmlschema.XMLSchema(str(SPECS / "qbo" / "xsd" / "Finance.xsd"))
