"""Three-decimal (KWD) and zero-decimal (JPY) currencies from the statement to the posted payment: stored,
matched and posted in the currency's own minor units."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from addon.domain.types import Contact, Invoice, InvoiceStatus
from addon.models import BankLine, Match
from addon.models import Invoice as MirroredInvoice
from addon.services.reconciliation import QueueActionError, change_match, import_statement, reconcile
from addon.services.sync import backfill
from connectors.fake import InMemoryConnector
from tests.addon.reconciliation.conftest import ACME_IBAN, NOW
from tests.addon.reconciliation.statements import Entry, camt053

D = Decimal


def _ledger(currency: str, amounts: dict[str, str]) -> InMemoryConnector:
    connector = InMemoryConnector(tenant_remote_id=f"org-{currency}")
    contact = Contact(remote_id="c1", name="Acme Trading Ltd", emails=("ap@c1.example",), currency=currency,
                      bank_accounts=(ACME_IBAN,), updated_at=datetime(2026, 1, 1, tzinfo=UTC))
    invoices = [Invoice(remote_id=rid, number=f"INV-{rid}", contact_id="c1", currency=currency,
                        issue_date=date(2026, 9, 1), due_date=date(2026, 10, 1), total=D(amount),
                        amount_due=D(amount), status=InvoiceStatus.OPEN, updated_at=datetime(2026, 9, 1, tzinfo=UTC))
                for rid, amount in amounts.items()]
    connector.seed(contacts=[contact], invoices=invoices)
    return connector


@pytest.fixture
def kwd(db, make_tenant):  # type: ignore[no-untyped-def]
    platform = _ledger("KWD", {"i1": "12.345", "i2": "12.340", "i3": "250.500"})
    tenant = make_tenant(platform="fake", remote_id="org-KWD", name="Kuwait Trading")
    backfill(db, tenant, platform, now=NOW)
    db.commit()
    return tenant, platform


def test_three_decimal_line_pays_its_own_invoice_not_the_one_a_fils_away(db, kwd) -> None:
    tenant, platform = kwd
    assert db.scalars(select(MirroredInvoice.amount_due).where(MirroredInvoice.remote_id == "i1")).one() == D("12.345")
    statement = camt053([Entry("12.345", "Acme Trading Ltd", ACME_IBAN, text="thank you")], currency="KWD")
    statement_id = import_statement(db, tenant, statement, "kwd.xml")["statement_id"]
    db.commit()
    db.expire_all()
    assert str(db.scalars(select(BankLine.amount)).one()) == "12.345"  # stored with its third decimal
    summary = reconcile(db, tenant, platform, statement_id, NOW, checkpoint=db.commit)
    assert (summary["auto"], summary["posted"]) == (1, 1), db.scalars(select(Match.explanation)).all()
    [payment] = platform.payments.values()
    assert (payment.amount, payment.currency, payment.allocations[0].invoice_id) == (D("12.345"), "KWD", "i1")
    assert (platform.invoices["i1"].amount_due, platform.invoices["i2"].amount_due) == (0, D("12.340"))
    db.expire_all()
    mirror = dict(db.execute(select(MirroredInvoice.remote_id, MirroredInvoice.amount_due)).all())
    assert (mirror["i1"], mirror["i2"]) == (0, D("12.340"))
    assert db.scalars(select(Match)).one().allocations[0]["amount"] == "12.345"


def test_admin_amounts_are_read_in_the_line_currency_decimals(db, kwd) -> None:
    tenant, platform = kwd
    statement = camt053([Entry("100.125", "Someone", text="no idea")], currency="KWD")
    statement_id = import_statement(db, tenant, statement, "kwd.xml")["statement_id"]
    reconcile(db, tenant, platform, statement_id, NOW)
    line = db.scalars(select(BankLine)).one()
    with pytest.raises(QueueActionError, match=r"'100\.1255' is not an amount in KWD \(3 decimals\)"):
        change_match(db, tenant, line.id, [("INV-i3", "100.1255")], user_id=None)
    match = change_match(db, tenant, line.id, [("INV-i3", "100.125")], user_id=None)
    assert match.allocations[0]["amount"] == "100.125"


def test_zero_decimal_currency_posts_whole_yen(db, make_tenant) -> None:
    platform = _ledger("JPY", {"j1": "120000", "j2": "45000"})
    tenant = make_tenant(platform="fake", remote_id="org-JPY", name="Tokyo Trading")
    backfill(db, tenant, platform, now=NOW)
    statement = camt053([Entry("120000", "Acme Trading Ltd", ACME_IBAN, text="INV-j1")], currency="JPY")
    statement_id = import_statement(db, tenant, statement, "jpy.xml")["statement_id"]
    summary = reconcile(db, tenant, platform, statement_id, NOW)
    assert (summary["auto"], summary["posted"]) == (1, 1), db.scalars(select(Match.explanation)).all()
    [payment] = platform.payments.values()
    assert (payment.amount, payment.allocations[0].invoice_id) == (D("120000"), "j1")
    assert platform.invoices["j1"].amount_due == 0
