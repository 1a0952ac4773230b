"""XeroConnector against the emulator: the official SDK on real loopback HTTP, domain types out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from addon.domain.types import Allocation, InvoiceStatus, NewCreditNote, NewPayment, TokenSet
from connectors.base import get_connector
from connectors.errors import AuthError, NotFoundError, RateLimitedError, ValidationError
from connectors.sandbox.limits import Limits
from connectors.tokens import InMemoryTokenStore
from connectors.xero import XeroConnector, list_connections
from connectors.xero.emulator.records import InvoiceRecord
from connectors.xero.emulator.testing import XeroSandbox, authorize, make_connector, start_xero_emulator


def open_invoice(sandbox: XeroSandbox) -> InvoiceRecord:
    return next(i for i in sandbox.store.invoices.values() if i.status == "AUTHORISED" and i.amount_due > 10)


def test_registered_under_xero(sandbox: XeroSandbox, token_store: InMemoryTokenStore) -> None:
    conn = get_connector("xero", sandbox.config(), sandbox.tenant_id, token_store)
    assert isinstance(conn, XeroConnector)


def test_lists_map_to_domain_types(connector: XeroConnector, sandbox: XeroSandbox) -> None:
    invoices = list(connector.list_invoices())
    assert len(invoices) == len(sandbox.store.invoices)
    by_id = {i.remote_id: i for i in invoices}
    for rec in sandbox.store.invoices.values():
        inv = by_id[rec.id]
        assert (inv.total, inv.amount_due, inv.amount_paid, inv.amount_credited) == (
            rec.total, rec.amount_due, rec.amount_paid, rec.amount_credited)
        assert isinstance(inv.total, Decimal)
        assert inv.updated_at is not None
        assert inv.updated_at.tzinfo is not None
        assert inv.issue_date == rec.date
        assert inv.due_date == rec.due_date
        assert inv.status is {"AUTHORISED": InvoiceStatus.OPEN, "PAID": InvoiceStatus.PAID,
                              "VOIDED": InvoiceStatus.VOIDED}[rec.status]
    contacts = list(connector.list_contacts())
    assert {c.remote_id for c in contacts} == set(sandbox.store.contacts)
    assert all(c.emails and c.currency for c in contacts)
    payments = list(connector.list_payments())
    assert len(payments) == len(sandbox.store.payments)
    assert all(p.allocations and p.allocations[0].amount == p.amount for p in payments)
    notes = list(connector.list_credit_notes())
    assert {n.remote_id for n in notes} == set(sandbox.store.credit_notes)


def test_paging_walks_every_page(sandbox: XeroSandbox, connector: XeroConnector) -> None:
    connector.page_size = 7
    before = sandbox.limiter.tenants[sandbox.tenant_id].served
    assert len(list(connector.list_invoices())) == 40
    assert sandbox.limiter.tenants[sandbox.tenant_id].served - before == 6  # ceil(40 / 7)


def test_modified_since_returns_only_changes(sandbox: XeroSandbox, connector: XeroConnector) -> None:
    since = sandbox.store.clock.now()
    assert list(connector.list_invoices(modified_since=since)) == []
    inv = open_invoice(sandbox)
    connector.add_invoice_note(inv.id, "no change to the invoice", idempotency_key="n1")
    sandbox.store.add_payment(inv.id, date(2026, 11, 2), Decimal("1.00"))
    changed = list(connector.list_invoices(modified_since=since))
    assert [i.remote_id for i in changed] == [inv.id]
    change_set = connector.changes_since(since)
    assert [i.remote_id for i in change_set.invoices] == [inv.id]
    assert len(change_set.payments) == 1


def test_full_sweep_catches_edits_the_modified_filter_misses(sandbox: XeroSandbox,
                                                              connector: XeroConnector) -> None:
    inv = open_invoice(sandbox)
    sandbox.store.add_payment(inv.id, date(2026, 11, 2), Decimal("1.00"))
    since = sandbox.store.clock.now() + timedelta(seconds=1)  # If-Modified-Since has whole seconds
    sandbox.store.clock.advance(2)
    sandbox.store.update_invoice(inv.id, due_date=date(2027, 2, 1))
    assert connector.changes_since(since).invoices == []
    swept = {i.remote_id: i for i in connector.list_invoices()}  # what the daily full sweep reads
    assert swept[inv.id].due_date == date(2027, 2, 1)


def test_get_invoice_and_contact(sandbox: XeroSandbox, connector: XeroConnector) -> None:
    rec = open_invoice(sandbox)
    assert connector.get_invoice(rec.id).number == rec.number
    assert connector.get_contact(rec.contact_id).name == sandbox.store.contacts[rec.contact_id].name
    with pytest.raises(NotFoundError):
        connector.get_invoice("3f1c4b4e-0000-4000-8000-000000000000")
    with pytest.raises(NotFoundError):
        connector.get_contact("3f1c4b4e-0000-4000-8000-000000000000")


def test_a_bill_is_not_a_sales_invoice(sandbox: XeroSandbox, connector: XeroConnector) -> None:
    # Xero's INVOICE webhooks also announce bills (ACCPAY); re-reading one must not bring it into the
    # receivables ledger, just as list_invoices leaves it out.
    rec = open_invoice(sandbox)
    bill = InvoiceRecord("6d1c2b3a-0000-4000-8000-00000000b111", "BILL-1", rec.contact_id, rec.currency, rec.date,
                         rec.due_date, Decimal("80.00"), sandbox.store.clock.now(), type="ACCPAY")
    sandbox.store.invoices[bill.id] = bill
    assert bill.id not in {i.remote_id for i in connector.list_invoices()}
    with pytest.raises(NotFoundError):
        connector.get_invoice(bill.id)


def test_a_supplier_credit_note_is_not_a_sales_credit_note(connector: XeroConnector,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from xero_python.accounting.models import Contact, CreditNote, CreditNotes

    supplier = CreditNote(type="ACCPAYCREDIT", credit_note_id="6d1c2b3a-0000-4000-8000-00000000c111",
                          contact=Contact(contact_id="6d1c2b3a-0000-4000-8000-00000000c222"), total=5)
    monkeypatch.setattr(connector.api, "get_credit_note", lambda *_a, **_k: CreditNotes(credit_notes=[supplier]))
    with pytest.raises(NotFoundError):
        connector.get_credit_note(supplier.credit_note_id)


def test_create_payment_is_idempotent(sandbox: XeroSandbox, connector: XeroConnector) -> None:
    rec = open_invoice(sandbox)
    due = rec.amount_due
    new = NewPayment(rec.contact_id, date(2026, 11, 2), rec.currency, (Allocation(rec.id, Decimal("10.00")),),
                     reference="bank line 42")
    first = connector.create_payment(new, idempotency_key="pay-abc")
    again = connector.create_payment(new, idempotency_key="pay-abc")
    assert first == again
    assert first.amount == Decimal("10.00")
    assert first.reference == "bank line 42"
    assert connector.get_invoice(rec.id).amount_due == due - Decimal("10.00")
    assert sum(1 for p in sandbox.store.payments.values() if p.reference == "bank line 42") == 1


def test_payment_across_two_invoices_is_one_batch(sandbox: XeroSandbox, connector: XeroConnector) -> None:
    contact = next(c for c in sandbox.store.contacts if sum(
        1 for i in sandbox.store.invoices.values() if i.contact_id == c and i.status == "AUTHORISED") >= 2)
    a, b = [i for i in sandbox.store.invoices.values() if i.contact_id == contact and i.status == "AUTHORISED"][:2]
    new = NewPayment(contact, date(2026, 11, 2), a.currency,
                     (Allocation(a.id, a.amount_due), Allocation(b.id, Decimal("1.00"))))
    paid = connector.create_payment(new, idempotency_key="batch-1")
    assert paid.amount == a.amount_due + Decimal("1.00") or a.status == "PAID"
    assert {x.invoice_id for x in paid.allocations} == {a.id, b.id}
    assert connector.get_invoice(a.id).status is InvoiceStatus.PAID


def test_overpayment_is_a_validation_error(sandbox: XeroSandbox, connector: XeroConnector) -> None:
    rec = open_invoice(sandbox)
    new = NewPayment(rec.contact_id, date(2026, 11, 2), rec.currency, (Allocation(rec.id, rec.amount_due + 1),))
    with pytest.raises(ValidationError) as err:
        connector.create_payment(new, idempotency_key="too-much")
    assert "exceeds the amount outstanding" in err.value.errors[0]


def test_create_and_allocate_credit_note(sandbox: XeroSandbox, connector: XeroConnector) -> None:
    rec = open_invoice(sandbox)
    due = rec.amount_due
    credit = NewCreditNote(rec.contact_id, date(2026, 11, 2), rec.currency, Decimal("7.50"), "short delivery",
                           (Allocation(rec.id, Decimal("5.00")),))
    note = connector.create_credit_note(credit, idempotency_key="cn-1")
    assert note.total == Decimal("7.50")
    assert note.remaining == Decimal("2.50")
    assert note.reason == "short delivery"
    assert note.allocations == (Allocation(rec.id, Decimal("5.00")),)
    again = connector.create_credit_note(credit, idempotency_key="cn-1")
    assert again.remote_id == note.remote_id
    assert again.remaining == Decimal("2.50")
    assert connector.get_invoice(rec.id).amount_due == due - Decimal("5.00")


def test_invoice_note_is_idempotent(sandbox: XeroSandbox, connector: XeroConnector) -> None:
    rec = open_invoice(sandbox)
    connector.add_invoice_note(rec.id, "Risk: high", idempotency_key="note-1")
    connector.add_invoice_note(rec.id, "Risk: high", idempotency_key="note-1")
    connector.set_risk_tag(rec.id, "high", "Cashline risk: high", idempotency_key="tag-1")
    assert connector.invoice_history(rec.id) == ["Risk: high", "Cashline risk: high"]


def test_expired_token_is_refreshed_through_the_store(sandbox: XeroSandbox) -> None:
    saved: list[TokenSet] = []
    first = authorize(sandbox)
    store = InMemoryTokenStore(first, on_saved=saved.append)
    conn = make_connector(sandbox, store)
    conn._now = lambda: datetime.now(UTC) + timedelta(minutes=31)  # our clock says the token has expired
    sandbox.store.clock.advance(31 * 60)
    assert conn.get_contact(next(iter(sandbox.store.contacts))).name
    assert len(saved) == 1
    assert store.load().refresh_token == saved[0].refresh_token != first.refresh_token


def test_401_triggers_one_refresh_then_succeeds(sandbox: XeroSandbox) -> None:
    store = InMemoryTokenStore(authorize(sandbox))
    conn = make_connector(sandbox, store)
    sandbox.store.clock.advance(31 * 60)  # the server thinks it expired; our copy still looks valid
    before = store.load()
    assert len(list(conn.list_contacts())) == 6
    assert store.load().access_token != before.access_token


def test_disconnected_tenant_is_auth_error(sandbox: XeroSandbox, token_store: InMemoryTokenStore,
                                           connector: XeroConnector) -> None:
    tokens = token_store.load()
    conn_id = list_connections(sandbox.config(), tokens.access_token)[0]["id"]
    requests.delete(f"{sandbox.url}/connections/{conn_id}", headers={"Authorization": f"Bearer {tokens.access_token}"},
                    timeout=5)
    with pytest.raises(AuthError):
        connector.get_invoice(open_invoice(sandbox).id)


def test_revoked_refresh_token_is_auth_error(sandbox: XeroSandbox) -> None:
    store = InMemoryTokenStore(authorize(sandbox))
    conn = make_connector(sandbox, store)
    from connectors.xero import revoke

    revoke(sandbox.config(), store.load().refresh_token)
    with pytest.raises(AuthError):
        list(conn.list_contacts())


def test_rate_limit_becomes_rate_limited_error_with_retry_after() -> None:
    with start_xero_emulator(customers=2, invoices=3, limits=Limits(per_minute=2, per_day=100, concurrent=5)) as sb:
        conn = make_connector(sb)
        waits: list[float] = []
        conn._sleep = waits.append
        conn.get_contact(next(iter(sb.store.contacts)))
        conn.get_contact(next(iter(sb.store.contacts)))
        with pytest.raises(RateLimitedError) as err:
            conn.get_contact(next(iter(sb.store.contacts)))
        assert err.value.problem == "minute"
        assert 1 <= err.value.retry_after <= 60
        # A minute-limit wait (~60 s) is longer than a worker should block: re-raised for the job to reschedule.
        assert waits == []
        assert sb.limiter.tenants[sb.tenant_id].rejected["minute"] == 1


def test_transient_failure_is_typed(sandbox: XeroSandbox, token_store: InMemoryTokenStore) -> None:
    from connectors.base import ConnectorConfig
    from connectors.errors import TransientError

    dead = ConnectorConfig(sandbox.client_id, sandbox.client_secret, "http://127.0.0.1:9", sandbox.url)
    conn = XeroConnector(dead, sandbox.tenant_id, token_store, sleep=lambda _s: None, max_attempts=2)
    with pytest.raises(TransientError):
        conn.get_contact("x")


def test_home_currency_is_the_organisations_base_currency(sandbox: XeroSandbox, connector: XeroConnector) -> None:
    assert connector.get_home_currency() == "GBP"
    sandbox.store.base_currency = "NZD"
    assert connector.get_home_currency() == "NZD"


def test_invoice_rates_are_turned_into_home_currency_per_unit(sandbox: XeroSandbox,
                                                             connector: XeroConnector) -> None:
    contact = next(iter(sandbox.store.contacts.values()))
    usd = sandbox.store.create_invoice(contact.id, date(2026, 11, 3), date(2026, 12, 3), Decimal("100"),
                                       currency="USD", currency_rate=Decimal("1.25"))
    gbp = sandbox.store.create_invoice(contact.id, date(2026, 11, 3), date(2026, 12, 3), Decimal("100"),
                                       currency="GBP")
    # Xero: 1.25 USD per 1 GBP -> the domain: 0.8 GBP per 1 USD.
    assert connector.get_invoice(usd.id).home_rate == Decimal("0.8")
    assert connector.get_invoice(gbp.id).home_rate == Decimal("1")


def test_the_organisation_is_base_currency_and_country_code_in_one_call(sandbox: XeroSandbox,
                                                                        connector: XeroConnector) -> None:
    sandbox.store.base_currency, sandbox.store.country_code = "NZD", "NZ"
    served = sandbox.limiter.tenants[sandbox.tenant_id].served
    organisation = connector.get_organisation()
    assert (organisation.home_currency, organisation.country) == ("NZD", "NZ")
    assert sandbox.limiter.tenants[sandbox.tenant_id].served == served + 1  # GET /Organisation, once
