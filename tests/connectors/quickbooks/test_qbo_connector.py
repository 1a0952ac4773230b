"""QuickBooksConnector against the emulator: reads, CDC, writes, conflicts, tokens, typed errors."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from addon.domain.types import Allocation, InvoiceStatus, NewCreditNote, NewPayment, TokenSet
from connectors.base import get_connector
from connectors.errors import (
    AuthError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    ValidationError,
)
from connectors.quickbooks import QuickBooksConnector, revoke
from connectors.quickbooks.connector import request_id
from connectors.quickbooks.emulator import api as api_module
from connectors.quickbooks.emulator import query as query_module
from connectors.quickbooks.emulator.testing import QboSandbox, authorize, make_connector, start_qbo_emulator
from connectors.sandbox.limits import Limits
from connectors.tokens import InMemoryTokenStore


def paths(sandbox: QboSandbox) -> list[str]:
    return [r["path"].rsplit("/", 1)[-1] for r in sandbox.state.requests]


def test_registered_as_qbo(sandbox: QboSandbox, token_store: InMemoryTokenStore) -> None:
    connector = get_connector("qbo", sandbox.config(), sandbox.realm_id, token_store)
    assert isinstance(connector, QuickBooksConnector)


def test_list_invoices_pages_through_everything(sandbox: QboSandbox, token_store: InMemoryTokenStore) -> None:
    connector = make_connector(sandbox, token_store, page_size=7)
    invoices = list(connector.list_invoices())
    stored = sandbox.store.entities["Invoice"]
    assert sorted(i.remote_id for i in invoices) == sorted(stored)
    assert paths(sandbox).count("query") == len(stored) // 7 + 1
    by_id = {i.remote_id: i for i in invoices}
    for raw in stored.values():
        assert by_id[raw["Id"]].amount_due == raw["Balance"]
        assert by_id[raw["Id"]].status is (InvoiceStatus.OPEN if raw["Balance"] > 0 else
                                           InvoiceStatus.VOIDED if raw["PrivateNote"] == "Voided" else
                                           InvoiceStatus.PAID)


def test_page_size_over_qbo_maximum_is_refused_up_front(sandbox: QboSandbox,
                                                        token_store: InMemoryTokenStore) -> None:
    with pytest.raises(ValueError, match="page_size"):
        make_connector(sandbox, token_store, page_size=1001)


def test_reads_map_contacts_payments_and_credit_notes(connector: QuickBooksConnector, sandbox: QboSandbox) -> None:
    contacts = list(connector.list_contacts())
    assert len(contacts) == len(sandbox.store.entities["Customer"])
    assert all(c.emails[0].startswith("ap@") for c in contacts)
    payments = list(connector.list_payments())
    assert sum((p.amount for p in payments), Decimal("0")) == sum(
        (p["TotalAmt"] for p in sandbox.store.entities["Payment"].values()), Decimal("0"))
    credits = list(connector.list_credit_notes())
    assert credits, "seed 7 has disputed invoices settled with credit memos"
    assert len(credits) == len(sandbox.store.entities["CreditMemo"])
    # each seeded credit memo is applied by a zero-amount Payment: that is credit, not money received
    assert len(payments) == len(sandbox.store.entities["Payment"]) - len(credits)
    assert all(p.amount > 0 for p in payments)
    assert connector.get_contact(contacts[0].remote_id) == contacts[0]
    with pytest.raises(NotFoundError):
        connector.get_invoice("999999")


def test_modified_since_filters_on_last_updated(connector: QuickBooksConnector, sandbox: QboSandbox,
                                                open_invoice: dict[str, Any]) -> None:
    cutoff = datetime.now(UTC) - timedelta(seconds=2)
    assert list(connector.list_invoices(modified_since=cutoff)) == []
    connector.add_invoice_note(open_invoice["Id"], "chased", idempotency_key="k")
    assert [i.remote_id for i in connector.list_invoices(modified_since=cutoff)] == [open_invoice["Id"]]


def test_create_payment_over_two_invoices_is_idempotent(connector: QuickBooksConnector,
                                                        sandbox: QboSandbox) -> None:
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for inv in sandbox.store.all("Invoice"):
        if inv["Balance"] > 2:
            by_customer.setdefault(inv["CustomerRef"]["value"], []).append(inv)
    customer, (first, second, *_) = next((c, v) for c, v in by_customer.items() if len(v) >= 2)
    new = NewPayment(contact_id=customer, date=date(2026, 11, 2), currency="GBP", reference="BACS 123",
                     allocations=(Allocation(first["Id"], Decimal("1.50")), Allocation(second["Id"], Decimal("2"))))
    payments_before = len(sandbox.store.entities["Payment"])
    created = connector.create_payment(new, idempotency_key="match-42")
    again = connector.create_payment(new, idempotency_key="match-42")
    assert again.remote_id == created.remote_id
    assert created.amount == Decimal("3.50")
    assert created.allocations == new.allocations
    assert created.reference == "BACS 123"
    assert connector.get_invoice(first["Id"]).amount_due == first["Balance"] - Decimal("1.50")
    assert connector.get_invoice(second["Id"]).amount_due == second["Balance"] - 2
    assert len(sandbox.store.entities["Payment"]) == payments_before + 1


def test_overpayment_is_a_validation_error_and_not_retried(connector: QuickBooksConnector, sleeps: list[float],
                                                           open_invoice: dict[str, Any]) -> None:
    new = NewPayment(open_invoice["CustomerRef"]["value"], date(2026, 11, 2), "GBP",
                     (Allocation(open_invoice["Id"], open_invoice["Balance"] + 1),))
    with pytest.raises(ValidationError):
        connector.create_payment(new, idempotency_key="too-much")
    assert sleeps == []


def test_credit_note_is_applied_through_payment_lines(connector: QuickBooksConnector,
                                                      open_invoice: dict[str, Any]) -> None:
    credit = NewCreditNote(open_invoice["CustomerRef"]["value"], date(2026, 11, 2), "GBP", Decimal("5.00"),
                           "short delivery", (Allocation(open_invoice["Id"], Decimal("3.00")),))
    note = connector.create_credit_note(credit, idempotency_key="short-pay-1")
    assert (note.total, note.remaining, note.reason) == (Decimal("5.00"), Decimal("2.00"), "short delivery")
    assert note.allocations == credit.allocations
    assert connector.create_credit_note(credit, idempotency_key="short-pay-1").remote_id == note.remote_id
    assert connector.get_invoice(open_invoice["Id"]).amount_due == open_invoice["Balance"] - Decimal("3.00")


def test_note_keeps_existing_text_and_is_idempotent(connector: QuickBooksConnector, api: Any,
                                                    open_invoice: dict[str, Any]) -> None:
    api.post("invoice", {"Id": open_invoice["Id"], "SyncToken": open_invoice["SyncToken"], "sparse": True,
                         "PrivateNote": "Customer asked for a copy"})
    long_key = "reminder:" + "x" * 80
    connector.add_invoice_note(open_invoice["Id"], "Reminder 1 sent", idempotency_key=long_key)
    connector.add_invoice_note(open_invoice["Id"], "Reminder 1 sent", idempotency_key=long_key)
    assert connector.get_invoice(open_invoice["Id"]).note == "Customer asked for a copy\nReminder 1 sent"
    assert len(request_id(long_key)) <= 50


def test_conflict_is_retried_by_rereading(connector: QuickBooksConnector, api: Any, sandbox: QboSandbox,
                                          open_invoice: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    real_read = connector._read
    edits = iter(["user edit"])

    def read_then_user_edits(entity: str, entity_id: str) -> dict[str, Any]:
        current = real_read(entity, entity_id)
        text = next(edits, None)
        if text:  # a user saves the invoice in QBO between our read and our write
            api.post("invoice", {"Id": entity_id, "SyncToken": current["SyncToken"], "sparse": True,
                                 "PrivateNote": text})
        return current

    monkeypatch.setattr(connector, "_read", read_then_user_edits)
    connector.add_invoice_note(open_invoice["Id"], "Cashline: promised to pay", idempotency_key="n-1")
    assert sandbox.store.entities["Invoice"][open_invoice["Id"]]["PrivateNote"] == (
        "user edit\nCashline: promised to pay")


def test_conflict_gives_up_after_the_configured_attempts(connector: QuickBooksConnector, api: Any,
                                                         open_invoice: dict[str, Any],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real_read = connector._read

    def always_races(entity: str, entity_id: str) -> dict[str, Any]:
        current = real_read(entity, entity_id)
        api.post("invoice", {"Id": entity_id, "SyncToken": current["SyncToken"], "sparse": True,
                             "PrivateNote": "again"})
        return current

    monkeypatch.setattr(connector, "_read", always_races)
    with pytest.raises(ConflictError):
        connector.add_invoice_note(open_invoice["Id"], "x", idempotency_key="n-2")


def test_risk_tag_uses_the_custom_field_when_defined(connector: QuickBooksConnector, sandbox: QboSandbox,
                                                     open_invoice: dict[str, Any]) -> None:
    connector.set_risk_tag(open_invoice["Id"], "high", "Cashline risk: high (0.82)", idempotency_key="t1")
    stored = sandbox.store.entities["Invoice"][open_invoice["Id"]]
    assert stored["CustomField"] == [{"DefinitionId": "1", "Name": "Cashline Risk", "Type": "StringType",
                                      "StringValue": "high"}]
    assert stored["PrivateNote"] == open_invoice["PrivateNote"]


def test_risk_tag_falls_back_to_the_note(sandbox: QboSandbox, token_store: InMemoryTokenStore,
                                         open_invoice: dict[str, Any]) -> None:
    connector = make_connector(sandbox, token_store, risk_field_name="Not Defined")
    connector.set_risk_tag(open_invoice["Id"], "high", "Cashline risk: high", idempotency_key="t2")
    stored = sandbox.store.entities["Invoice"][open_invoice["Id"]]
    assert stored["PrivateNote"].endswith("Cashline risk: high")
    assert stored["CustomField"] == []


def test_changes_since_uses_cdc_and_reports_deletions(connector: QuickBooksConnector, sandbox: QboSandbox,
                                                      api: Any, open_invoice: dict[str, Any]) -> None:
    since = datetime.now(UTC) - timedelta(seconds=2)
    payment = connector.create_payment(NewPayment(open_invoice["CustomerRef"]["value"], date(2026, 11, 2), "GBP",
                                                  (Allocation(open_invoice["Id"], Decimal("1.00")),)),
                                       idempotency_key="p1")
    raw = api.get(f"payment/{payment.remote_id}").json()["Payment"]
    api.post("payment", {"Id": raw["Id"], "SyncToken": raw["SyncToken"]}, operation="delete")
    changes = connector.changes_since(since)
    assert "cdc" in paths(sandbox)
    assert [i.remote_id for i in changes.invoices] == [open_invoice["Id"]]
    assert changes.payments == []
    assert changes.deleted == {"payment": [payment.remote_id]}


def test_changes_beyond_30_days_sweep_with_queries(connector: QuickBooksConnector, sandbox: QboSandbox) -> None:
    changes = connector.changes_since(datetime.now(UTC) - timedelta(days=45))
    assert "cdc" not in paths(sandbox)
    assert paths(sandbox).count("query") == 4
    assert changes.deleted == {}
    assert {i.remote_id for i in changes.invoices} <= set(sandbox.store.entities["Invoice"])


def test_cdc_cap_falls_back_to_a_sweep(connector: QuickBooksConnector, sandbox: QboSandbox,
                                       open_invoice: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_module, "CDC_MAX_OBJECTS", 1)
    monkeypatch.setattr("connectors.quickbooks.connector.CDC_CAP", 1)
    since = datetime.now(UTC) - timedelta(seconds=2)
    for n in range(2):
        connector.create_payment(NewPayment(open_invoice["CustomerRef"]["value"], date(2026, 11, 2), "GBP",
                                            (Allocation(open_invoice["Id"], Decimal("1.00")),)),
                                 idempotency_key=f"cap-{n}")
    changes = connector.changes_since(since)
    assert "cdc" in paths(sandbox)
    assert len(changes.payments) == 2


def test_expired_tokens_are_refreshed_and_the_rotation_persisted(sandbox: QboSandbox, tokens: TokenSet) -> None:
    saved: list[TokenSet] = []
    expired = dataclasses.replace(tokens, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    store = InMemoryTokenStore(expired, on_saved=saved.append)
    connector = make_connector(sandbox, store)
    assert list(connector.list_contacts())
    assert len(saved) == 1
    assert saved[0].refresh_token != tokens.refresh_token
    assert store.load() == saved[0]


def test_a_401_refreshes_once_and_retries(connector: QuickBooksConnector, sandbox: QboSandbox,
                                          token_store: InMemoryTokenStore, tokens: TokenSet) -> None:
    sandbox.state.oauth.expire_access_tokens()  # the server says expired though our clock disagrees
    assert connector.get_contact("1").remote_id == "1"
    assert token_store.load().refresh_token != tokens.refresh_token


def test_revoked_connection_is_an_auth_error(connector: QuickBooksConnector, sandbox: QboSandbox,
                                             tokens: TokenSet) -> None:
    revoke(sandbox.config(), tokens.refresh_token)
    with pytest.raises(AuthError):
        connector.get_contact("1")


@pytest.mark.parametrize("xml", [True, False])
def test_throttling_is_a_typed_rate_limit_with_xml_or_json_bodies(xml: bool) -> None:
    with start_qbo_emulator(customers=2, invoices=4, limits=Limits(per_minute=1, per_day=None, concurrent=5)) as sb:
        sb.state.throttle_xml = xml
        sleeps: list[float] = []
        connector = make_connector(sb, InMemoryTokenStore(authorize(sb)), sleep=sleeps.append)
        connector.get_contact("1")
        with pytest.raises(RateLimitedError) as info:
            connector.get_contact("1")
    assert info.value.status == 429
    assert info.value.problem == "ThrottleExceeded"
    assert info.value.retry_after >= 1
    assert (info.value.body or "").startswith("<?xml" if xml else "{")
    assert sleeps == []  # a minute-long wait is handed back to the job layer, not slept on


def test_short_throttles_are_waited_out(sandbox: QboSandbox, token_store: InMemoryTokenStore,
                                        sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    connector = make_connector(sandbox, token_store, sleep=sleeps.append)
    decisions = iter([False])
    real_acquire = sandbox.limiter.acquire

    def acquire(tenant: str) -> Any:
        decision = real_acquire(tenant)
        if decision.allowed and next(decisions, True) is False:
            sandbox.limiter.release(tenant)
            decision.allowed, decision.problem, decision.retry_after = False, "concurrent", 1
        return decision

    monkeypatch.setattr(sandbox.limiter, "acquire", acquire)
    assert connector.get_contact("1").remote_id == "1"
    assert sleeps == [1.0]


def test_server_errors_are_retried_as_transient(connector: QuickBooksConnector, sleeps: list[float],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    real_run = query_module.run
    failures = iter([RuntimeError("boom")])

    def flaky(*args: Any) -> Any:
        error = next(failures, None)
        if error:
            raise error
        return real_run(*args)

    monkeypatch.setattr(query_module, "run", flaky)
    assert list(connector.list_contacts())
    assert len(sleeps) == 1
    failures = iter([RuntimeError("boom")] * 10)
    with pytest.raises(TransientError):
        list(connector.list_contacts())


def test_home_currency_comes_from_the_company_preferences(sandbox: QboSandbox,
                                                         token_store: InMemoryTokenStore) -> None:
    sandbox.store.currency = "USD"
    assert make_connector(sandbox, token_store).get_home_currency() == "USD"
    assert make_connector(sandbox, token_store, home_currency="CAD").get_home_currency() == "CAD"


def test_a_document_without_currency_is_in_the_home_currency_not_gbp(sandbox: QboSandbox,
                                                                      token_store: InMemoryTokenStore,
                                                                      open_invoice: dict[str, Any]) -> None:
    # A US company: its documents are dollars. The connector used to fall back to GBP.
    sandbox.store.currency = "USD"
    del sandbox.store.entities["Invoice"][open_invoice["Id"]]["CurrencyRef"]
    connector = make_connector(sandbox, token_store)
    assert connector.get_invoice(open_invoice["Id"]).currency == "USD"
    listed = {i.remote_id: i for i in connector.list_invoices()}
    assert listed[open_invoice["Id"]].currency == "USD"
    assert paths(sandbox).count("preferences") == 1  # read once per connector


def test_invoices_carry_their_exchange_rate(connector: QuickBooksConnector, sandbox: QboSandbox) -> None:
    raw = {i["Id"]: i for i in sandbox.store.all("Invoice")}
    for inv in connector.list_invoices():
        assert inv.home_rate == raw[inv.remote_id]["ExchangeRate"]
        if inv.currency == sandbox.store.currency:
            assert inv.home_rate == 1


def test_the_organisation_is_home_currency_and_country_in_one_more_call(sandbox: QboSandbox,
                                                                        token_store: InMemoryTokenStore) -> None:
    # A Canadian company: CompanyInfo.Country comes from the emulated company, not a constant "GB".
    sandbox.store.currency, sandbox.store.country = "CAD", "CA"
    sandbox.state.requests.clear()
    organisation = make_connector(sandbox, token_store).get_organisation()
    assert (organisation.home_currency, organisation.country) == ("CAD", "CA")
    assert sorted(paths(sandbox)) == sorted(["preferences", sandbox.realm_id])  # + companyinfo/<realm>


def test_the_emulated_company_is_in_its_home_currency_s_country_unless_told() -> None:
    from connectors.quickbooks.emulator.store import QboStore

    assert QboStore(realm_id="1", company_name="US Co", currency="USD").country == "US"
    assert QboStore(realm_id="1", company_name="NL Co", currency="EUR", country="NL").country == "NL"
