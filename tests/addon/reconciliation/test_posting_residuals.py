"""Fee, FX (both ways) and overpayment residuals posted to the Xero and QBO emulators: the invoices are
paid in full, the difference is booked (bank transaction / Purchase / Deposit) or left as unapplied
customer credit, the bank account moves by exactly the statement lines, and a retry after a crash midway
(payment posted, fee or overpayment not yet) posts nothing twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from addon.models import AuditLog, BankLine, Match
from addon.services.reconciliation import import_statement, reconcile
from addon.services.sync import backfill
from connectors.errors import TransientError
from connectors.quickbooks.emulator.chart import BANK_CHARGES, CHECKING, EXCHANGE_GAIN_OR_LOSS
from tests.addon.reconciliation.statements import Entry, camt053
from tests.addon.reconciliation.test_end_to_end import OURS, OWNER, QboLedger, XeroLedger

NOW = datetime(2026, 11, 11, 7, 0, tzinfo=UTC)
D = Decimal

# invoice -> line amount: fee (7.50 short), FX loss (15.50 short, 1.8%), FX gain (+4.75), overpayment (+100)
LINES = {"INV-7301": "1192.50", "INV-7302": "830.00", "INV-7303": "315.00", "INV-7306": "1100.00"}


class XeroBooks(XeroLedger):
    """What the Xero emulator booked: bank transactions by type, overpayments, bank account movement."""

    def __init__(self) -> None:
        super().__init__()
        self.seeded_payments = set(self.sandbox.store.payments)

    def adjustments(self) -> list[tuple[str, Decimal, str]]:
        return sorted((t.type, t.total, t.lines[0].account_code)
                      for t in self.sandbox.store.bank_transactions.values() if t.type != "RECEIVE-OVERPAYMENT")

    def unapplied_credit(self) -> list[Decimal]:
        return [o.remaining for o in self.sandbox.store.overpayments.values()]

    def bank_movement(self) -> Decimal:
        store = self.sandbox.store
        paid = sum((p.amount for i, p in store.payments.items() if i not in self.seeded_payments
                    and p.account_code == "090" and p.status == "AUTHORISED"), D("0"))
        signed = sum((-t.total if t.type == "SPEND" else t.total for t in store.bank_transactions.values()
                      if t.bank_account_code == "090"), D("0"))
        return paid + signed


class QboBooks(QboLedger):
    def __init__(self) -> None:
        super().__init__()
        self.opening = self.checking()

    def checking(self) -> Decimal:
        return D(str(self.sandbox.store.entities["Account"][CHECKING]["CurrentBalance"]))

    def adjustments(self) -> list[tuple[str, Decimal, str]]:
        store = self.sandbox.store
        spent = [("SPEND", D(str(p["TotalAmt"])), p["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"]["value"])
                 for p in store.all("Purchase")]
        received = [("RECEIVE", D(str(d["TotalAmt"])), d["Line"][0]["DepositLineDetail"]["AccountRef"]["value"])
                    for d in store.all("Deposit")]
        return sorted(spent + received)

    def unapplied_credit(self) -> list[Decimal]:
        return [D(str(p["UnappliedAmt"])) for p in self.sandbox.store.all("Payment") if p["UnappliedAmt"]]

    def bank_movement(self) -> Decimal:
        return self.checking() - self.opening


EXPECTED = {
    "xero": [("RECEIVE", D("4.75"), "475"), ("SPEND", D("7.50"), "404"), ("SPEND", D("15.50"), "475")],
    "qbo": [("RECEIVE", D("4.75"), EXCHANGE_GAIN_OR_LOSS), ("SPEND", D("7.50"), BANK_CHARGES),
            ("SPEND", D("15.50"), EXCHANGE_GAIN_OR_LOSS)],
}


@pytest.fixture(params=[XeroBooks, QboBooks], ids=["xero", "qbo"])
def books(request: pytest.FixtureRequest) -> Iterator[Any]:
    emulated = request.param()
    yield emulated
    emulated.stop()


class CrashTwice:
    """A connector whose worker dies twice midway: once right after the payment went through, before
    the fee/FX bank transaction (or, on Xero, the overpayment); then right after that call succeeded on
    the platform, before anything was committed. Only the idempotency keys keep the retries honest."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.failed = inner, Counter[str]()
        if hasattr(inner, "create_overpayment"):
            real = inner.create_overpayment
            inner.create_overpayment = lambda *a, **k: self._once("overpayment", real, *a, **k)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _once(self, what: str, real: Any, *args: Any, **kwargs: Any) -> Any:
        self.failed[what] += 1
        if self.failed[what] == 1:
            raise TransientError(f"worker died before the {what}")
        result = real(*args, **kwargs)
        if self.failed[what] == 2:
            raise TransientError(f"worker died after the {what}, before the commit")
        return result

    def create_bank_transaction(self, *args: Any, **kwargs: Any) -> Any:
        return self._once("bank transaction", self.inner.create_bank_transaction, *args, **kwargs)


def _statement(books: Any) -> bytes:
    name = {number: books.customers[i][1] for number, i in OWNER.items()}
    return camt053([Entry(amount, name[number], text=f"Payment {number}") for number, amount in LINES.items()])


def test_fee_fx_and_overpayment_are_booked_once_even_after_a_crash(db, make_tenant, books) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant(platform=books.platform, remote_id=books.remote_id, name="Residual Ltd")
    backfill(db, tenant, books.connector, now=NOW)
    statement_id = import_statement(db, tenant, _statement(books), "residuals.xml")["statement_id"]
    db.commit()
    crashing = CrashTwice(books.connector)

    # Each crash rolls the job back; the retry (RQ) runs the same matches with the same keys.
    for _ in range(5 if books.platform == "xero" else 3):
        try:
            summary = reconcile(db, tenant, crashing, statement_id, NOW, checkpoint=db.commit)
            break
        except TransientError:
            db.rollback()
    assert crashing.failed["bank transaction"] > 2  # both crashes really happened midway
    assert summary["refused"] == 0

    ids, payments = books.invoice_ids(), books.payments()
    for number in LINES:
        assert payments[ids[number]] == [D(OURS[number])], number  # paid once, in full
        assert books.connector.get_invoice(ids[number]).amount_due == 0, number
    assert books.adjustments() == EXPECTED[books.platform]  # each difference booked exactly once
    assert books.unapplied_credit() == [D("100.00")]
    assert books.bank_movement() == sum((D(a) for a in LINES.values()), D("0"))

    db.expire_all()
    assert set(db.scalars(select(BankLine.status).where(BankLine.statement_id == statement_id))) == {"reconciled"}
    posted = {m.allocations[0]["number"]: m for m in db.scalars(select(Match).where(Match.status == "posted"))}
    assert {n: m.residual for n, m in posted.items()} == {
        "INV-7301": "fee", "INV-7302": "fx", "INV-7303": "fx", "INV-7306": "overpayment"}
    assert len(posted["INV-7301"].posted_payment_ids) == 2  # payment, fee bank transaction
    assert len(posted["INV-7306"].posted_payment_ids) == (2 if books.platform == "xero" else 1)
    actions = db.scalars(select(AuditLog.action).where(AuditLog.tenant_id == tenant.id)).all()
    assert actions.count("bank_transaction.posted") == 3
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "payment.posted",
                                              AuditLog.after["unapplied"].as_string() == "100.00")).one()
    assert audit.after["allocations"][0]["number"] == "INV-7306"

    again = reconcile(db, tenant, books.connector, statement_id, NOW)
    assert (again["matched"], again["posted"]) == (0, 0)
    assert books.adjustments() == EXPECTED[books.platform]


def test_a_refused_fee_account_keeps_the_payment_and_says_why(db, make_tenant, books) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant(platform=books.platform, remote_id=books.remote_id, name="Residual Ltd",
                         settings={"matching": {"fee_account_code": "99999"}})
    backfill(db, tenant, books.connector, now=NOW)
    name = books.customers[OWNER["INV-7301"]][1]
    statement = camt053([Entry("1192.50", name, text="Payment INV-7301")])
    statement_id = import_statement(db, tenant, statement, "fee.xml")["statement_id"]
    summary = reconcile(db, tenant, books.connector, statement_id, NOW)
    assert summary["posted"] == 1
    assert books.connector.get_invoice(books.invoice_ids()["INV-7301"]).amount_due == 0
    assert books.adjustments() == []
    match = db.scalars(select(Match)).one()
    assert "spend 7.50 GBP to account 99999 not booked: the platform refused it" in match.explanation
    assert db.scalars(select(AuditLog).where(AuditLog.action == "bank_transaction.refused")).one()
