"""Fixtures for the QBO emulator and connector: a small seeded company served on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from addon.domain.types import TokenSet
from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks.emulator.testing import QboSandbox, authorize, make_connector, start_qbo_emulator
from connectors.tokens import InMemoryTokenStore

SPECS = Path(__file__).resolve().parents[4] / "shared" / "specs"
if not SPECS.exists():
    SPECS = Path("/work/shared/specs")


class Api:
    """Raw HTTP access to the emulator's /v3 API, as a user's other app would mutate the company."""

    def __init__(self, sandbox: QboSandbox, access_token: str) -> None:
        self.base = f"{sandbox.url}/v3/company/{sandbox.realm_id}"
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {access_token}", "Accept": "application/json"})

    def get(self, path: str, **params: str) -> requests.Response:
        return self.session.get(f"{self.base}/{path}", params={"minorversion": "75", **params}, timeout=10)

    def post(self, path: str, body: object, **params: str) -> requests.Response:
        return self.session.post(f"{self.base}/{path}", json=body, params={"minorversion": "75", **params},
                                 timeout=10)

    def query(self, statement: str) -> requests.Response:
        return self.session.post(f"{self.base}/query", data=statement, params={"minorversion": "75"},
                                 headers={"Content-Type": "application/text"}, timeout=10)


@pytest.fixture
def open_invoice(sandbox: QboSandbox) -> dict[str, Any]:
    """An invoice with a positive balance in the seeded company."""
    return next(i for i in sandbox.store.all("Invoice") if i["Balance"] > 0)


@pytest.fixture
def specs() -> Path:
    return SPECS


@pytest.fixture
def sandbox() -> Iterator[QboSandbox]:
    with start_qbo_emulator(seed=7, customers=6, invoices=60, custom_fields={"1": "Cashline Risk"}) as sb:
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
def api(sandbox: QboSandbox, tokens: TokenSet) -> Api:
    return Api(sandbox, tokens.access_token)


@pytest.fixture(scope="session")
def finance_schema() -> Any:
    """Intuit's Finance.xsd (and the schemas it includes), loaded once: it is 500 KB."""
    import xmlschema

    return xmlschema.XMLSchema(str(SPECS / "qbo" / "xsd" / "Finance.xsd"))
