"""Builders shared by addon/job tests (plain functions, no fixtures)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from datetime import UTC, date, datetime
from decimal import Decimal

from addon.domain.types import Contact, Invoice, InvoiceStatus
from connectors.fake import InMemoryConnector

FAKE_KEY = "fake-webhook-key"


def mirror_generated_company(db, tenant, seed: int, *, customers: int, invoices: int,  # type: ignore[no-untyped-def]
                             today: date, months: int = 26, write_offs: bool = False):
    """Seed the in-memory platform with a generated company and backfill ``tenant``'s mirror from it;
    returns the connector (for write-back checks). The caller commits."""
    from addon.services import sync
    from connectors.fake import InMemoryConnector
    from connectors.sandbox.domain import as_domain
    from connectors.sandbox.generator import generate_company

    company = generate_company(seed, customers=customers, invoices=invoices, months=months, today=today,
                               write_offs=write_offs)
    connector = InMemoryConnector(tenant_remote_id=tenant.remote_id)
    contacts, invoices_, payments, credits = as_domain(company)
    connector.seed(contacts=contacts, invoices=invoices_, payments=payments, credit_notes=credits)
    sync.backfill(db, tenant, connector, now=datetime.now(UTC))
    return connector


def contact(remote_id: str = "C1", name: str = "Acme Ltd", email: str = "ap@acme.example") -> Contact:
    return Contact(remote_id=remote_id, name=name, emails=(email,), currency="GBP",
                   updated_at=datetime(2026, 1, 1, tzinfo=UTC))


def invoice(remote_id: str = "I1", contact_id: str = "C1", amount: str = "100.00", due: str = "100.00",
            status: InvoiceStatus = InvoiceStatus.OPEN, number: str | None = None) -> Invoice:
    return Invoice(remote_id=remote_id, number=number or f"INV-{remote_id}", contact_id=contact_id, currency="GBP",
                   issue_date=date(2026, 10, 1), due_date=date(2026, 10, 31), total=Decimal(amount),
                   amount_due=Decimal(due), status=status, updated_at=datetime(2026, 10, 1, tzinfo=UTC))


def fake_delivery(tenant_remote_id: str, *changes: tuple[str, str]) -> tuple[bytes, str]:
    """A signed delivery in the fake platform's format: ((kind, id), ...) -> (body, signature)."""
    body = json.dumps({"events": [{"tenant": tenant_remote_id, "kind": kind, "id": entity_id}
                                  for kind, entity_id in changes]}).encode()
    signature = base64.b64encode(hmac.new(FAKE_KEY.encode(), body, hashlib.sha256).digest()).decode()
    return body, signature


class GatedConnector(InMemoryConnector):
    """Holds the first payments listing until the test opens ``gate`` (a slow platform page of a sync);
    ``entered`` tells the test the sync is inside it."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.entered, self.gate = threading.Event(), threading.Event()

    def list_payments(self, *, modified_since: datetime | None = None):  # type: ignore[no-untyped-def]
        if not self.entered.is_set():
            self.entered.set()
            assert self.gate.wait(30), "the test never opened the gate"
        return super().list_payments(modified_since=modified_since)


def insert_big_ledger(db, tenant, *, customers: int, invoices: int,  # type: ignore[no-untyped-def]
                      due: date = date(2026, 11, 1)) -> list[int]:
    """A big tenant in a few bulk INSERTs (not a sync: seconds, not minutes): ``customers`` customers named
    "Customer 0001"..., ``invoices`` open invoices INV-00001... spread over them round robin, amounts
    100.00 + n cents, due on ``due`` plus 0-59 days. Returns the customer ids in name order; the caller
    commits."""
    from sqlalchemy import select

    from addon.models import Customer
    from addon.models import Invoice as InvoiceRow

    db.execute(Customer.__table__.insert(), [
        {"tenant_id": tenant.id, "remote_id": f"c{n}", "name": f"Customer {n:04d}"} for n in range(customers)])
    ids = list(db.scalars(select(Customer.id).where(Customer.tenant_id == tenant.id).order_by(Customer.name)))
    from datetime import timedelta

    db.execute(InvoiceRow.__table__.insert(), [
        {"tenant_id": tenant.id, "remote_id": f"i{n}", "number": f"INV-{n:05d}", "customer_id": ids[n % customers],
         "currency": "GBP", "issue_date": due - timedelta(days=30), "due_date": due + timedelta(days=n % 60),
         "total": Decimal("100.00") + Decimal(n) / 100, "amount_due": Decimal("100.00") + Decimal(n) / 100,
         "status": "open"} for n in range(invoices)])
    return ids


def in_thread(app, target, *args):  # type: ignore[no-untyped-def]
    """Run ``target(*args)`` in a thread inside an app context (as a worker process would), with its own
    database session; returns the thread and a list that receives the result or the exception."""
    results: list[object] = []

    def run() -> None:
        try:
            with app.app_context():
                results.append(target(*args))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the test
            results.append(exc)
        finally:
            app.extensions["cashline_db"].remove_session()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, results
