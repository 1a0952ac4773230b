"""A mirrored ledger on the in-memory platform, a real SMTP sink, and a mailer pointed at it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from addon.domain.types import Contact, Invoice, InvoiceStatus
from addon.mail import MailSettings, SmtpSender, UnsubscribeTokens
from addon.models import Tenant
from addon.services.dunning import DunningMailer
from addon.services.sync import backfill
from connectors.fake import InMemoryConnector
from tests.mail.conftest import Sink, SmtpServer, closed_port, smtp_server  # noqa: F401 - fixtures

LONDON = ZoneInfo("Europe/London")
DUE = date(2026, 10, 30)  # a Friday; 2026-11-09 (+10 days) is a Monday


def at(day: date, hour: int = 10) -> datetime:
    """A run at ``hour`` London time on ``day``, as UTC."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=LONDON).astimezone(UTC)


JOB_NOW = at(DUE + timedelta(days=10))  # the dunning jobs' tests run on Monday 9 November, 10:00 London


def contact(remote_id: str, name: str, *emails: str) -> Contact:
    return Contact(remote_id=remote_id, name=name, emails=emails, currency="GBP",
                   updated_at=datetime(2026, 1, 1, tzinfo=UTC))


def invoice(remote_id: str, contact_id: str, amount: str = "100.00", due: date = DUE,
            billing_email: str | None = None) -> Invoice:
    return Invoice(remote_id=remote_id, number=f"INV-{remote_id}", contact_id=contact_id, currency="GBP",
                   issue_date=date(2026, 10, 1), due_date=due, total=Decimal(amount), amount_due=Decimal(amount),
                   status=InvoiceStatus.OPEN, updated_at=datetime(2026, 10, 1, tzinfo=UTC),
                   billing_email=billing_email, online_url=f"https://pay.example/{remote_id}")


@dataclass
class Ledger:
    tenant: Tenant
    platform: InMemoryConnector


@pytest.fixture
def platform() -> InMemoryConnector:
    connector = InMemoryConnector(tenant_remote_id="org-dun")
    connector.seed(contacts=[contact("C1", "Acme Ltd", "ap@acme.example"),
                             contact("C2", "Globex BV", "ar@globex.example")],
                   invoices=[invoice("I1", "C1"), invoice("I2", "C2", "250.00")])
    return connector


@pytest.fixture
def ledger(app, db, make_tenant, platform, monkeypatch) -> Ledger:  # type: ignore[no-untyped-def]
    """The platform's ledger mirrored into the database (committed: the service commits claims)."""
    tenant = make_tenant(platform="fake", remote_id="org-dun", name="Example Supplies Ltd")
    backfill(db, tenant, platform, now=datetime(2026, 10, 1, tzinfo=UTC))
    db.commit()
    monkeypatch.setitem(app.config, "CONNECTOR_FACTORY", lambda t: platform)
    return Ledger(tenant, platform)


def make_mailer(port: int, *, attempts: int = 2) -> DunningMailer:
    settings = MailSettings(host="127.0.0.1", port=port, mail_from="Cashline <no-reply@cashline.test>", timeout=5)
    sender = SmtpSender(settings, max_attempts=attempts, base_delay=0.0, sleep=lambda _s: None)
    return DunningMailer(sender, settings, UnsubscribeTokens("test-secret-key"), "http://127.0.0.1:5000")


@pytest.fixture
def mailer(smtp_server: SmtpServer) -> DunningMailer:  # noqa: F811
    return make_mailer(smtp_server.port)
