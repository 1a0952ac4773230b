"""A small mirrored ledger on the in-memory platform, for the reconciliation service and page tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from addon.domain.types import Contact, Invoice, InvoiceStatus
from addon.services.sync import backfill
from connectors.fake import InMemoryConnector

NOW = datetime(2026, 11, 11, 7, 0, tzinfo=UTC)
ACME_IBAN = "GB11NWBK00000000000001"


def _contact(remote_id: str, name: str, accounts: tuple[str, ...] = ()) -> Contact:
    return Contact(remote_id=remote_id, name=name, emails=(f"ap@{remote_id}.example",), currency="GBP",
                   bank_accounts=accounts, updated_at=datetime(2026, 1, 1, tzinfo=UTC))


def _invoice(remote_id: str, number: str, contact_id: str, amount: str, due: date) -> Invoice:
    return Invoice(remote_id=remote_id, number=number, contact_id=contact_id, currency="GBP",
                   issue_date=date(2026, 9, 1), due_date=due, total=Decimal(amount), amount_due=Decimal(amount),
                   status=InvoiceStatus.OPEN, updated_at=datetime(2026, 9, 1, tzinfo=UTC))


LEDGER = [
    ("i1001", "INV-1001", "c1", "1200.00", date(2026, 10, 1)),
    ("i1002", "INV-1002", "c1", "300.00", date(2026, 10, 15)),
    ("i1003", "INV-1003", "c1", "450.00", date(2026, 10, 20)),
    ("i2001", "INV-2001", "c2", "999.00", date(2026, 10, 5)),
    ("i2002", "INV-2002", "c2", "250.00", date(2026, 10, 25)),
    ("i3001", "INV-3001", "c3", "777.77", date(2026, 10, 9)),
]


@pytest.fixture
def platform() -> InMemoryConnector:
    connector = InMemoryConnector(tenant_remote_id="org-rec")
    connector.seed(contacts=[_contact("c1", "Acme Trading Ltd", (ACME_IBAN,)), _contact("c2", "Globex BV"),
                             _contact("c3", "Initech GmbH")],
                   invoices=[_invoice(*row) for row in LEDGER])
    return connector


@pytest.fixture
def tenant(db, make_tenant, platform):  # type: ignore[no-untyped-def]
    """A tenant whose ledger mirrors ``platform`` (committed, so other sessions and jobs see it)."""
    row = make_tenant(platform="fake", remote_id="org-rec", name="Recon Ltd")
    backfill(db, row, platform, now=NOW)
    db.commit()
    return row
