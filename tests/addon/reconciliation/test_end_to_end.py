"""Import -> match -> post against the Xero and QuickBooks emulators (real HTTP, official SDKs)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from addon.models import BankLine, Match, Tenant
from addon.services import reconcile_posting
from addon.services.reconciliation import exception_queue, import_statement
from addon.services.sync import backfill
from connectors.base import AccountingConnector
from jobs.reconcile import reconcile_statement
from jobs.runtime import set_app
from tests.addon.reconciliation.statements import Entry, camt053

# Open invoices added to the seeded company; numbers far from the generator's own.
OURS = {"INV-7301": "1200.00", "INV-7302": "845.50", "INV-7303": "310.25", "INV-7304": "400.00",
        "INV-7305": "275.00", "INV-7306": "1000.00", "INV-7307": "1234.56", "INV-7308": "2000.00"}
OWNER = {"INV-7301": 0, "INV-7302": 1, "INV-7303": 2, "INV-7304": 3, "INV-7305": 3, "INV-7306": 4, "INV-7307": 0,
         "INV-7308": 1}


class XeroLedger:
    """The Xero emulator, seen the way the test needs it."""

    platform = "xero"

    def __init__(self) -> None:
        from connectors.xero.emulator.testing import make_connector, start_xero_emulator

        self.sandbox = start_xero_emulator(seed=11, customers=5, invoices=8)
        self.remote_id = self.sandbox.tenant_id
        names = sorted(c.name for c in self.sandbox.store.contacts.values())
        by_name = {c.name: c.id for c in self.sandbox.store.contacts.values()}
        self.customers = [(by_name[n], n) for n in names]
        for number, amount in OURS.items():
            self.sandbox.store.create_invoice(self.customers[OWNER[number]][0], date(2026, 10, 1),
                                              date(2026, 10, 31), Decimal(amount), number=number)
        self.connector: AccountingConnector = make_connector(self.sandbox)

    def invoice_ids(self) -> dict[str, str]:
        return {inv.number: inv.id for inv in self.sandbox.store.invoices.values()}

    def payments(self) -> dict[str, list[Decimal]]:
        """Invoice id -> amounts of the payments applied to it."""
        out: dict[str, list[Decimal]] = {}
        for payment in self.sandbox.store.payments.values():
            out.setdefault(payment.invoice_id, []).append(payment.amount)
        return out

    def credit_notes(self) -> list[Decimal]:
        return [note.total for note in self.sandbox.store.credit_notes.values()]

    def stop(self) -> None:
        self.sandbox.stop()


class QboLedger:
    platform = "qbo"

    def __init__(self) -> None:
        from connectors.quickbooks.emulator import entities
        from connectors.quickbooks.emulator.testing import authorize, make_connector, start_qbo_emulator
        from connectors.tokens import InMemoryTokenStore

        self.sandbox = start_qbo_emulator(seed=11, customers=5, invoices=8)
        self.remote_id = self.sandbox.realm_id
        store = self.sandbox.store
        self.customers = sorted(((c["Id"], c["DisplayName"]) for c in store.all("Customer")), key=lambda c: c[1])
        for number, amount in OURS.items():
            entities.create_invoice(store, {
                "CustomerRef": {"value": self.customers[OWNER[number]][0]}, "DocNumber": number,
                "TxnDate": "2026-10-01", "DueDate": "2026-10-31",
                "Line": [{"Amount": amount, "DetailType": "SalesItemLineDetail"}]})
        self.connector = make_connector(self.sandbox, InMemoryTokenStore(authorize(self.sandbox)))

    def invoice_ids(self) -> dict[str, str]:
        return {inv["DocNumber"]: inv["Id"] for inv in self.sandbox.store.all("Invoice")}

    def payments(self) -> dict[str, list[Decimal]]:
        out: dict[str, list[Decimal]] = {}
        for payment in self.sandbox.store.all("Payment"):
            if Decimal(str(payment["TotalAmt"])) == 0:
                continue  # QBO applies a credit memo with a zero-total payment: no money moved
            for line in payment["Line"]:
                for linked in line["LinkedTxn"]:
                    if linked["TxnType"] == "Invoice":
                        out.setdefault(linked["TxnId"], []).append(Decimal(str(line["Amount"])))
        return out

    def credit_notes(self) -> list[Decimal]:
        return [Decimal(str(memo["TotalAmt"])) for memo in self.sandbox.store.all("CreditMemo")]

    def stop(self) -> None:
        self.sandbox.stop()


@pytest.fixture(params=[XeroLedger, QboLedger], ids=["xero", "qbo"])
def ledger(request: pytest.FixtureRequest) -> Iterator[Any]:
    emulated = request.param()
    yield emulated
    emulated.stop()


def _statement(ledger: Any) -> bytes:
    name = {number: ledger.customers[i][1] for number, i in OWNER.items()}
    return camt053([
        Entry("1200.00", name["INV-7301"], text="Payment INV-7301 thank you"),  # exact reference
        Entry("845.50", name["INV-7302"], text="inv 7320"),                     # typo (two digits swapped)
        Entry("310.25", name["INV-7303"]),                                       # no reference: name + amount
        Entry("675.00", name["INV-7304"], text="INV-7304 INV-7305"),             # one payment, two invoices
        Entry("600.00", name["INV-7306"], text="INV-7306 first instalment"),     # short payment
        Entry("1900.00", name["INV-7308"], text="INV-7308 less 5% damaged goods"),  # deduction: credit note
        Entry("1234.56", "PRIVATE PERSON"),                                      # amount only: a suggestion
        Entry("98.76", "HMRC", text="VAT repayment"),                            # unrelated
    ])


def test_statement_pays_invoices_on_the_platform(app, db, make_tenant, ledger, monkeypatch, redis_conn) -> None:
    tenant = make_tenant(platform=ledger.platform, remote_id=ledger.remote_id, name="Emulated Ltd")
    backfill(db, tenant, ledger.connector, now=datetime(2026, 11, 1, tzinfo=UTC))
    statement_id = import_statement(db, tenant, _statement(ledger), "november.xml")["statement_id"]
    db.commit()
    tenant_id = tenant.id
    monkeypatch.setitem(app.config, "CONNECTOR_FACTORY", lambda t: ledger.connector)
    set_app(app)

    # The worker dies right after the platform accepted the first payment; RQ retries the job.
    real, calls = reconcile_posting._record_posted, {"n": 0}

    def crash_once(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(reconcile_posting, "_record_posted", crash_once)
    with pytest.raises(RuntimeError):
        reconcile_statement(tenant_id, statement_id)
    summary = reconcile_statement(tenant_id, statement_id)
    assert (summary["posted"], summary["refused"]) == (6, 0), summary

    ids, payments = ledger.invoice_ids(), ledger.payments()
    for number in ("INV-7301", "INV-7302", "INV-7303", "INV-7304", "INV-7305"):
        assert payments[ids[number]] == [Decimal(OURS[number])], number  # exactly one payment each
        assert ledger.connector.get_invoice(ids[number]).amount_due == 0, number
    assert payments[ids["INV-7306"]] == [Decimal("600.00")]
    assert ledger.connector.get_invoice(ids["INV-7306"]).amount_due == Decimal("400.00")
    assert payments[ids["INV-7308"]] == [Decimal("1900.00")]
    assert ledger.credit_notes().count(Decimal("100.00")) == 1  # the accepted 5% deduction
    assert ledger.connector.get_invoice(ids["INV-7308"]).amount_due == 0
    assert ids["INV-7307"] not in payments
    assert ledger.connector.get_invoice(ids["INV-7307"]).amount_due == Decimal("1234.56")

    db.expire_all()
    queue = {str(e["line"].amount): e for e in exception_queue(db, db.get(Tenant, tenant_id))}
    assert set(queue) == {"1234.56", "98.76"}
    assert queue["1234.56"]["suggestions"][0]["allocations"][0]["number"] == "INV-7307"
    assert queue["98.76"]["match"].decision == "none"

    again = reconcile_statement(tenant_id, statement_id)
    assert (again["matched"], again["posted"]) == (0, 0)
    assert ledger.payments() == payments
    db.expire_all()
    statuses = db.scalars(select(BankLine.status).where(BankLine.statement_id == statement_id)).all()
    assert sorted(statuses) == ["exception", "exception"] + ["reconciled"] * 6
    posted = {str(m.allocations[0]["number"]): m for m in db.scalars(select(Match).where(Match.status == "posted"))}
    assert all(m.posted_payment_ids for m in posted.values())
    assert "one typo away from INV-7302" in posted["INV-7302"].explanation
    assert "partial payment" in posted["INV-7306"].explanation
    assert posted["INV-7306"].residual == "partial"
    assert posted["INV-7308"].residual == "deduction"
    assert len(posted["INV-7308"].posted_payment_ids) == 2
    if ledger.platform == "xero":
        # The one deposit paying INV-7304 and INV-7305 is one batch payment, stored by its BatchPaymentID
        # (what deletes it) and then its payments.
        combined = posted["INV-7304"].posted_payment_ids
        batch = ledger.sandbox.store.batch_payments[combined[0]]
        assert combined == [batch.id, *(p.id for p in batch.payments)]
        assert {p.invoice_id for p in batch.payments} == {ids["INV-7304"], ids["INV-7305"]}
        assert len(ledger.sandbox.store.batch_payments) == 1
