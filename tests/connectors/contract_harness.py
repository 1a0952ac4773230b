"""One harness per platform for the connector contract suite: the same generated company behind
InMemoryConnector, XeroConnector (Xero emulator) and QuickBooksConnector (QBO emulator).

The suite talks to ``Harness.connector`` through the AccountingConnector interface only; the harness
adds what the interface cannot express: how the platform signs webhooks, what a valid delivery looks
like, an id that cannot exist, and a read-back of invoice notes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from addon.domain.types import Invoice
from connectors.base import AccountingConnector
from connectors.fake import InMemoryConnector
from connectors.sandbox.domain import as_domain
from connectors.sandbox.generator import SandboxCompany, generate_company
from connectors.sandbox.limits import Limits
from connectors.tokens import InMemoryTokenStore

# Small, but with enough open invoices that each mutating test gets its own.
SEED, CUSTOMERS, INVOICES = 11, 12, 120
TODAY = date(2026, 11, 1)
WEBHOOK_KEY = "contract-webhook-key"


def company() -> SandboxCompany:
    """The company every platform is seeded with (the emulators' companies have written bad debt off)."""
    return generate_company(SEED, customers=CUSTOMERS, invoices=INVOICES, today=TODAY, write_offs=True)


def hmac_b64(body: bytes, key: str) -> str:
    """base64(HMAC-SHA256(key, body)): the scheme of x-xero-signature, intuit-signature and the fake."""
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Harness:
    name: str
    connector: AccountingConnector
    company: SandboxCompany
    unknown_id: str
    webhook_body: Callable[[str], bytes]  # invoice id -> a valid delivery announcing a change to it
    sign: Callable[[bytes, str], str]
    notes: Callable[[str], list[str]]  # invoice id -> note texts as the platform shows them
    served: Callable[[], int] | None = None  # API requests the emulator admitted so far (None: no HTTP)
    _handed_out: set[str] = field(default_factory=set)

    def open_invoice(self) -> Invoice:
        """An open invoice no earlier test has been handed (tests mutate a shared company)."""
        for inv in sorted(self.connector.list_invoices(), key=lambda i: i.number):
            if inv.is_open and inv.remote_id not in self._handed_out:
                self._handed_out.add(inv.remote_id)
                return inv
        raise AssertionError(f"{self.name}: the seeded company ran out of open invoices")

    def any_open_invoice(self) -> Invoice:
        """An open invoice, as it is now, for tests that must leave it unchanged."""
        return next(i for i in sorted(self.connector.list_invoices(), key=lambda i: i.number) if i.is_open)


@contextmanager
def fake_harness() -> Iterator[Harness]:
    comp = company()
    connector = InMemoryConnector(tenant_remote_id="fake-org")
    contacts, invoices, payments, credits = as_domain(comp)
    connector.seed(contacts=contacts, invoices=invoices, payments=payments, credit_notes=credits)

    def body(invoice_id: str) -> bytes:
        return json.dumps({"events": [{"tenant": "fake-org", "kind": "invoice", "id": invoice_id,
                                       "operation": "update"}]}).encode()

    yield Harness("fake", connector, comp, "no-such-id", body, hmac_b64,
                  lambda invoice_id: list(connector.notes.get(invoice_id, [])))


@contextmanager
def xero_harness() -> Iterator[Harness]:
    from connectors.xero.emulator.testing import make_connector, start_xero_emulator

    # Rate limits are not part of this contract (tests/jobs/test_sync_limits.py covers them): lift
    # Xero's 60/min so the module's ~150 calls do not wait a minute.
    with start_xero_emulator(seed=SEED, customers=CUSTOMERS, invoices=INVOICES, today=TODAY,
                             limits=Limits(per_minute=100_000, per_day=None, concurrent=5)) as sb:
        connector = make_connector(sb, webhook_key=WEBHOOK_KEY)
        connector._sleep = lambda _s: None  # retries must not slow the suite down

        def body(invoice_id: str) -> bytes:
            return json.dumps({"events": [{
                "resourceUrl": sb.api_url(f"/Invoices/{invoice_id}"), "resourceId": invoice_id,
                "eventDateUtc": "2026-11-01T10:00:00.000", "eventType": "UPDATE", "eventCategory": "INVOICE",
                "tenantId": sb.tenant_id, "tenantType": "ORGANISATION"}],
                "firstEventSequence": 1, "lastEventSequence": 1, "entropy": "CONTRACT"}).encode()

        yield Harness("xero", connector, company(), str(uuid.uuid4()), body, hmac_b64, connector.invoice_history,
                      lambda: sb.limiter.tenants[sb.tenant_id].served)


@contextmanager
def qbo_harness() -> Iterator[Harness]:
    from connectors.quickbooks.emulator.testing import authorize, make_connector, start_qbo_emulator

    with start_qbo_emulator(SEED, customers=CUSTOMERS, invoices=INVOICES, today=TODAY) as sb:
        connector = make_connector(sb, InMemoryTokenStore(authorize(sb)), sleep=lambda _s: None)

        def body(invoice_id: str) -> bytes:
            return json.dumps({"eventNotifications": [{"realmId": sb.realm_id, "dataChangeEvent": {"entities": [
                {"name": "Invoice", "id": invoice_id, "operation": "Update",
                 "lastUpdated": "2026-11-01T10:00:00.000Z"}]}}]}).encode()

        def notes(invoice_id: str) -> list[str]:
            # QBO keeps notes as lines of the invoice's PrivateNote.
            return (connector.get_invoice(invoice_id).note or "").splitlines()

        yield Harness("qbo", connector, company(), "987654321", body, hmac_b64, notes,
                      lambda: sb.limiter.tenants[sb.realm_id].served)


HARNESSES = {"fake": fake_harness, "xero": xero_harness, "qbo": qbo_harness}
