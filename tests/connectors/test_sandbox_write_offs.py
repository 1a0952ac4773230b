"""The sandbox generator's bad debt: deterministic, realistic, and invisible to everything else."""

from __future__ import annotations

from datetime import date

from connectors.sandbox.domain import as_domain
from connectors.sandbox.generator import SandboxCompany, generate_company

TODAY = date(2026, 11, 1)


def _company(write_offs: bool, seed: int = 7) -> SandboxCompany:
    return generate_company(seed, customers=40, invoices=1500, today=TODAY, write_offs=write_offs)


def _ledger(company: SandboxCompany) -> list[tuple[object, ...]]:
    return [(i.id, i.total, i.voided, i.paid_date, tuple(i.payments), tuple(i.credit_notes)) for i in company.invoices]


def test_write_offs_are_deterministic_and_off_by_default() -> None:
    assert _ledger(_company(True)) == _ledger(_company(True))
    assert _ledger(generate_company(7, customers=40, invoices=1500, today=TODAY)) == _ledger(_company(False))
    assert not any(i.written_off_on for i in _company(False).invoices)


def test_only_the_written_off_invoices_change() -> None:
    # Their own random stream: every other invoice, payment and credit note is as without write-offs.
    plain, bad = _company(False), _company(True)
    assert plain.customers == bad.customers
    for before, after in zip(_ledger(plain), _ledger(bad), strict=True):
        if before != after:
            assert next(i for i in bad.invoices if i.id == after[0]).written_off_on is not None


def test_write_offs_are_old_unpaid_invoices_of_customers_in_trouble() -> None:
    company = _company(True)
    gone = [i for i in company.invoices if i.written_off_on is not None]
    assert 15 <= len(gone) <= 0.05 * len(company.invoices)  # a small share
    assert {company.customer(i.customer_id).behaviour for i in gone} <= {"deteriorating", "disputing", "slow"}
    closed = [i for i in gone if i.written_off_on <= TODAY]  # type: ignore[operator]
    assert closed
    assert len(closed) < len(gone)  # some are still open today, to be written off later
    for inv in gone:
        days = (inv.written_off_on - inv.due_date).days  # type: ignore[operator]
        assert 90 <= days <= 180
        assert (inv.payments, inv.credit_notes, inv.paid_date) == ([], [], None)  # never paid
        assert inv.voided == (inv.written_off_on <= TODAY)  # type: ignore[operator]
        assert inv.amount_due == (0 if inv.voided else inv.total)


def test_a_voided_write_off_is_dated_by_its_last_change() -> None:
    company = _company(True)
    _, invoices, _, _ = as_domain(company)
    by_id = {i.remote_id: i for i in invoices}
    voided = [i for i in company.invoices if i.voided and i.written_off_on is not None]
    assert voided
    for inv in voided:
        assert by_id[inv.id].updated_at.date() == inv.written_off_on


def test_the_emulators_serve_the_write_offs() -> None:
    from connectors.quickbooks.emulator.testing import build_state as qbo_state
    from connectors.xero.emulator.app import build_state as xero_state

    company = _company(True)
    voided = {i.number: i.written_off_on for i in company.invoices if i.voided and i.written_off_on is not None}
    xero = xero_state(seed=7, customers=40, invoices=1500, today=TODAY)
    records = {r.number: r for r in xero.store.invoices.values()}
    for number, when in voided.items():
        assert records[number].status == "VOIDED"
        assert records[number].updated.date() == when
    qbo, _ = qbo_state(7, customers=40, invoices=1500, today=TODAY)
    entities = {e["DocNumber"]: e for e in qbo.store.entities["Invoice"].values()}
    for number, when in voided.items():
        assert entities[number]["MetaData"]["LastUpdatedTime"].startswith(when.isoformat())
