"""OAuth scopes: the emulator refuses a call the token's grant does not cover, as Xero does (401
AuthorizationUnsuccessful, ``insufficient_scope``), and the connector turns that into a ScopeError naming
the scope, without a pointless token refresh. Every call goes through the official xero-python SDK."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from xero_python.accounting.models import Contact, Contacts, HistoryRecord, HistoryRecords

from connectors.errors import ScopeError
from connectors.tokens import InMemoryTokenStore
from connectors.xero import XeroConnector, scopes
from connectors.xero.emulator.app import API_PREFIX, create_app
from connectors.xero.emulator.testing import XeroSandbox, authorize, make_connector, start_xero_emulator

Call = Callable[[XeroConnector, str], Any]  # (connector, an ACCREC invoice id)


def _connector(sandbox: XeroSandbox, scope: str) -> tuple[XeroConnector, InMemoryTokenStore]:
    store = InMemoryTokenStore(authorize(sandbox, scope=f"offline_access {scope}".strip()))
    return make_connector(sandbox, store), store


def _some_invoice(sandbox: XeroSandbox) -> str:
    return next(i.id for i in sandbox.store.invoices.values() if i.type == "ACCREC")


# One read per family of endpoints the emulator serves: (label, the SDK call, the scopes that must each
# open it on their own, a grant that does not, the scope the refusal names).
READS: list[tuple[str, Call, tuple[str, ...], str, str]] = [
    ("Invoices", lambda c, _inv: c.api.get_invoices(c.tenant_remote_id),
     ("accounting.invoices", "accounting.invoices.read", "accounting.transactions", "accounting.transactions.read"),
     "accounting.payments accounting.contacts accounting.settings", "accounting.invoices.read"),
    ("CreditNotes", lambda c, _inv: c.api.get_credit_notes(c.tenant_remote_id),
     ("accounting.invoices.read", "accounting.transactions.read"), "accounting.payments.read",
     "accounting.invoices.read"),
    ("Invoice history", lambda c, _inv: c.api.get_invoice_history(c.tenant_remote_id, _inv),
     ("accounting.invoices.read", "accounting.transactions.read"), "accounting.contacts accounting.settings",
     "accounting.invoices.read"),
    ("Payments", lambda c, _inv: c.api.get_payments(c.tenant_remote_id),
     ("accounting.payments", "accounting.payments.read", "accounting.transactions.read"), "accounting.invoices",
     "accounting.payments.read"),
    ("Overpayments", lambda c, _inv: c.api.get_overpayments(c.tenant_remote_id),
     ("accounting.payments.read", "accounting.transactions.read"), "accounting.banktransactions",
     "accounting.payments.read"),
    ("BankTransactions", lambda c, _inv: c.api.get_bank_transactions(c.tenant_remote_id),
     ("accounting.banktransactions", "accounting.banktransactions.read", "accounting.transactions.read"),
     "accounting.payments accounting.invoices", "accounting.banktransactions.read"),
    ("Contacts", lambda c, _inv: c.api.get_contacts(c.tenant_remote_id),
     ("accounting.contacts", "accounting.contacts.read"), "accounting.transactions accounting.settings",
     "accounting.contacts.read"),
    ("Organisation", lambda c, _inv: c.api.get_organisations(c.tenant_remote_id),
     ("accounting.settings", "accounting.settings.read"), "accounting.transactions accounting.contacts",
     "accounting.settings.read"),
    ("Accounts", lambda c, _inv: c.api.get_accounts(c.tenant_remote_id),
     ("accounting.settings.read",), "accounting.transactions", "accounting.settings.read"),
    ("Currencies", lambda c, _inv: c.api.get_currencies(c.tenant_remote_id),
     ("accounting.settings.read",), "accounting.invoices accounting.payments accounting.banktransactions",
     "accounting.settings.read"),
]


@pytest.fixture(scope="module")
def shared() -> Any:
    with start_xero_emulator(seed=7, customers=4, invoices=12) as sb:
        yield sb


@pytest.mark.parametrize(("label", "call", "openers", "without", "named"), READS, ids=[r[0] for r in READS])
def test_each_read_is_refused_without_its_scope_and_allowed_with_either_family(
        shared: XeroSandbox, label: str, call: Call, openers: tuple[str, ...], without: str, named: str) -> None:
    invoice = _some_invoice(shared)
    refused, _ = _connector(shared, without)
    with pytest.raises(ScopeError) as caught:
        refused._call(lambda: call(refused, invoice))
    assert (caught.value.status, caught.value.scope) == (401, named)
    assert named in str(caught.value)
    for scope in openers:
        allowed, _ = _connector(shared, scope)
        allowed._call(lambda c=allowed: call(c, invoice))  # type: ignore[misc]


def test_a_refusal_has_xeros_shape(shared: XeroSandbox) -> None:
    tokens = authorize(shared, scope="offline_access accounting.contacts")
    resp = requests.get(shared.api_url("/Invoices"), timeout=10, headers={
        "Authorization": f"Bearer {tokens.access_token}", "xero-tenant-id": shared.tenant_id,
        "Accept": "application/json"})
    assert resp.status_code == 401
    body = resp.json()
    assert (body["Type"], body["Title"], body["Status"], body["Detail"]) == (
        None, "Unauthorized", 401, "AuthorizationUnsuccessful")
    assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]


def _note(c: XeroConnector, invoice: str) -> Any:
    records = HistoryRecords(history_records=[HistoryRecord(details="scope check")])
    return c.api.create_invoice_history(c.tenant_remote_id, invoice, records)


def _contact(c: XeroConnector, _invoice: str) -> Any:
    return c.api.create_contacts(c.tenant_remote_id, Contacts(contacts=[Contact(name=f"Scope {id(c)}")]))


@pytest.mark.parametrize(("call", "read_only", "writers", "named"), [
    (_note, "accounting.invoices.read accounting.transactions.read", ("accounting.invoices", "accounting.transactions"),
     "accounting.invoices"),
    (_contact, "accounting.contacts.read", ("accounting.contacts",), "accounting.contacts"),
], ids=["invoice history note", "contact"])
def test_a_write_needs_the_read_write_scope(shared: XeroSandbox, call: Call, read_only: str,
                                            writers: tuple[str, ...], named: str) -> None:
    invoice = _some_invoice(shared)
    reader, _ = _connector(shared, read_only)
    with pytest.raises(ScopeError) as caught:
        reader._call(lambda: call(reader, invoice))
    assert caught.value.scope == named  # reading was granted: what is missing is the write scope
    for scope in writers:
        writer, _ = _connector(shared, scope)
        writer._call(lambda c=writer: call(c, invoice))  # type: ignore[misc]


def test_a_scope_refusal_is_not_retried_with_a_refreshed_token(sandbox: XeroSandbox) -> None:
    connector, store = _connector(sandbox, "accounting.invoices.read")
    before = store.load()
    with pytest.raises(ScopeError, match=r"accounting\.settings\.read"):
        connector.get_organisation()
    assert store.load() == before  # a refresh cannot add a scope: the grant is left alone


def test_the_connectors_reads_run_on_cashlines_own_grant(connector: XeroConnector) -> None:
    """The default sandbox grant is Cashline's XERO_SCOPES: everything a sync reads is covered."""
    assert list(connector.list_invoices())
    assert list(connector.list_contacts())
    list(connector.list_payments())
    list(connector.list_credit_notes())
    assert connector.get_organisation().home_currency


# --- the consent screen -------------------------------------------------------------------------------
def _consent(sandbox: XeroSandbox, scope: str) -> requests.Response:
    query = urlencode({"response_type": "code", "client_id": sandbox.client_id, "redirect_uri": sandbox.redirect_uri,
                       "scope": scope, "state": "s"})
    return requests.get(f"{sandbox.url}/identity/connect/authorize?{query}", timeout=10, allow_redirects=False)


def test_consent_for_an_unknown_scope_is_invalid_scope(shared: XeroSandbox) -> None:
    resp = _consent(shared, "offline_access accounting.invoices accounting.everything")
    assert resp.status_code == 400
    assert "invalid_scope" in resp.text
    assert "accounting.everything" in resp.text
    assert "Location" not in resp.headers
    posted = requests.post(f"{shared.url}/identity/connect/authorize", allow_redirects=False, timeout=10, data={
        "client_id": shared.client_id, "redirect_uri": shared.redirect_uri, "scope": "accounting.everything",
        "state": "s", "decision": "allow"})
    assert posted.status_code == 400  # no code for it either


def test_an_app_created_after_march_2026_cannot_ask_for_the_broad_transactions_scope() -> None:
    with start_xero_emulator(customers=1, invoices=1, granular_only=True) as sandbox:
        assert "invalid_scope" in _consent(sandbox, "offline_access accounting.transactions").text
        assert _consent(sandbox, "offline_access accounting.invoices accounting.contacts").status_code == 200


def test_every_api_route_is_in_the_scope_table(shared: XeroSandbox) -> None:
    """The guard refuses a resource the table does not know: a new emulator route must be added to it."""
    rules = create_app(shared.state).url_map.iter_rules()
    resources = {scopes.resource_of(r.rule) for r in rules if r.rule.startswith(API_PREFIX)}
    assert resources
    assert resources <= set(scopes.FAMILIES), resources - set(scopes.FAMILIES)
