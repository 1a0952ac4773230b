"""Pure pieces of the emulator and connector: where-filters, date formats, seeding, business rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.sandbox.generator import generate_company
from connectors.xero import mapping
from connectors.xero.emulator import wire
from connectors.xero.emulator.errors import XeroValidationError
from connectors.xero.emulator.seed import build_store
from connectors.xero.emulator.store import OrgStore
from connectors.xero.emulator.where import WhereError, compile_where

RECORD: dict[str, Any] = {
    "Type": "ACCREC", "Status": "AUTHORISED", "AmountDue": Decimal("12.50"), "Reference": None,
    "Date": date(2026, 3, 1), "UpdatedDateUTC": datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
    "Contact": {"ContactID": "ABC-123", "Name": "Acme Trading Ltd"}, "SentToContact": True,
}


@pytest.mark.parametrize(("where", "expected"), [
    ('Status=="AUTHORISED"', True),
    ('Status == "authorised"', True),
    ('Status!="AUTHORISED"', False),
    ('Type=="ACCREC" AND AmountDue > 12', True),
    ('Type=="ACCREC" && AmountDue >= 12.51', False),
    ('Status=="PAID" OR AmountDue < 20', True),
    ('(Status=="PAID" || Status=="VOIDED") AND AmountDue > 0', False),
    ('Contact.ContactID==Guid("abc-123")', True),
    ("Date >= DateTime(2026, 03, 01)", True),
    ("Date > DateTime(2026, 03, 01)", False),
    ("UpdatedDateUTC < DateTime(2026, 3, 2, 11, 0, 0)", True),
    ("Reference == null", True),
    ("SentToContact == true", True),
    ('Contact.Name.Contains("trading")', True),
    ('Contact.Name.StartsWith("Globex")', False),
])
def test_where(where: str, expected: bool) -> None:
    assert compile_where(where, "Invoice")(RECORD) is expected


@pytest.mark.parametrize("where", ['Colour=="red"', 'Status==', 'Status=="A" AND', "DateTime(2026,13,1)==Date",
                                   'Date == DateTime(2026, 2, 30)', 'Status=="A" )', "AmountDue > \"x\""])
def test_where_errors(where: str) -> None:
    with pytest.raises(WhereError):
        compile_where(where, "Invoice")(RECORD)


@pytest.mark.parametrize(("value", "expected"), [
    (date(2018, 12, 30), "/Date(1546128000000+0000)/"),
    (datetime(2019, 1, 1, 0, 0, 1, 500000, tzinfo=UTC), "/Date(1546300801500+0000)/"),
])
def test_ms_date(value: date, expected: str) -> None:
    assert wire.ms_date(value) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("2019-03-12", date(2019, 3, 12)), ("2019-03-12T00:00:00", date(2019, 3, 12)),
    ("/Date(1546128000000+0000)/", date(2018, 12, 30)), ("/Date(1546128000000)/", date(2018, 12, 30)),
])
def test_parse_request_date(raw: str, expected: date) -> None:
    assert wire.parse_request_date(raw) == expected


@pytest.mark.parametrize("raw", ["2019-02-30", "12/03/2019", "", None, 20190312])
def test_parse_request_date_rejects(raw: Any) -> None:
    with pytest.raises(wire.BadDateError):
        wire.parse_request_date(raw)


def test_encode_keeps_decimals_exact_and_drops_nulls() -> None:
    assert wire.encode({"A": Decimal("0.10"), "B": None, "C": [date(2018, 12, 30)]}) == \
        b'{"A": 0.10, "C": ["/Date(1546128000000+0000)/"]}'


def small_store(seed: int = 7) -> OrgStore:
    return build_store(generate_company(seed, customers=6, invoices=80, today=date(2026, 11, 1)))


def test_seeding_is_deterministic_and_consistent() -> None:
    a, b = small_store(), small_store()
    assert a.tenant_id == b.tenant_id
    assert list(a.invoices) == list(b.invoices)
    assert small_store(8).tenant_id != a.tenant_id
    company = generate_company(7, customers=6, invoices=80, today=date(2026, 11, 1))
    assert len(a.invoices) == 80
    assert len(a.payments) == len(company.payments)
    assert len(a.credit_notes) == len(company.credit_notes) > 0
    for inv in a.invoices.values():
        if inv.status != "VOIDED":
            assert inv.amount_due >= 0
            assert (inv.status == "PAID") == (inv.amount_due == 0)


def test_store_rules_for_payments_and_credits() -> None:
    store = small_store()
    events: list[tuple[str, str, str]] = []
    store.listeners.append(lambda *e: events.append(e))
    inv = next(i for i in store.invoices.values() if i.status == "AUTHORISED")
    due = inv.amount_due
    with pytest.raises(XeroValidationError, match="exceeds"):
        store.add_payment(inv.id, date(2026, 11, 2), due + Decimal("0.01"))
    pay = store.add_payment(inv.id, date(2026, 11, 2), due)
    assert inv.status == "PAID"
    assert inv.fully_paid_on == date(2026, 11, 2)
    with pytest.raises(XeroValidationError, match="valid status"):
        store.add_payment(inv.id, date(2026, 11, 2), Decimal("1"))
    store.delete_payment(pay.id)
    assert inv.status == "AUTHORISED"
    assert inv.amount_due == due
    assert inv.fully_paid_on is None
    other = next(c for c in store.contacts if c != inv.contact_id)
    note = store.create_credit_note(other, date(2026, 11, 2), Decimal("5.00"), currency=inv.currency)
    with pytest.raises(XeroValidationError, match="same contact"):
        store.allocate_credit(note.id, inv.id, Decimal("1.00"), date(2026, 11, 2))
    assert [e[0] for e in events] == ["INVOICE", "INVOICE", "CREDITNOTE"]


def test_new_credit_note_numbers_do_not_clash_with_seeded_ones() -> None:
    store = small_store()
    contact = next(iter(store.contacts))
    made = [store.create_credit_note(contact, date(2026, 11, 2), Decimal("1.00")).number for _ in range(3)]
    assert len({n.number for n in store.credit_notes.values()}) == len(store.credit_notes)
    assert len(set(made)) == 3


class _FakeHttpResponse:
    """What ApiException reads from urllib3's response: status, reason, data, getheaders()."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status, self.reason, self.data, self._headers = status, "Too Many Requests", b"", headers

    def getheaders(self) -> dict[str, str]:
        return self._headers


@pytest.mark.parametrize(("headers", "wait"), [
    ({"Retry-After": "0", "X-Rate-Limit-Problem": "minute"}, 0.0),
    ({"Retry-After": "7"}, 7.0),
    ({}, 60.0),
    ({"Retry-After": "soon"}, 60.0)], ids=["zero", "seconds", "absent", "not-a-number"])
def test_sdk_429_keeps_a_zero_retry_after(headers: dict[str, str], wait: float) -> None:
    from xero_python.exceptions import ApiException

    from connectors.errors import RateLimitedError
    from connectors.xero.faults import map_api_exception

    err = map_api_exception(ApiException(http_resp=_FakeHttpResponse(429, headers)))
    assert isinstance(err, RateLimitedError)
    assert err.retry_after == wait


@pytest.mark.parametrize(("headers", "wait"), [({"Retry-After": "0"}, 0.0), ({}, 60.0)], ids=["zero", "absent"])
def test_identity_429_keeps_a_zero_retry_after(headers: dict[str, str], wait: float) -> None:
    import requests

    from connectors.errors import RateLimitedError
    from connectors.xero.auth import _send

    class _Session(requests.Session):
        def request(self, *_args: Any, **_kwargs: Any) -> requests.Response:  # type: ignore[override]
            resp = requests.Response()
            resp.status_code, resp._content = 429, b""
            resp.headers.update(headers)
            return resp

    with pytest.raises(RateLimitedError) as caught:
        _send("POST", "http://identity.invalid/connect/token", session=_Session())
    assert caught.value.retry_after == wait


@pytest.mark.parametrize(("currency_rate", "home_rate"), [
    (Decimal("1.000000"), Decimal("1")),
    (Decimal("190.5"), Decimal("0.0052493438")),  # a JPY invoice in a GBP organisation keeps its digits
    (1.25, Decimal("0.8")),  # the SDK may hand over a float
    (None, None), (Decimal("0"), None), (Decimal("-2"), None),  # no usable rate: none invented
])
def test_currency_rate_is_turned_round(currency_rate: object, home_rate: Decimal | None) -> None:
    assert mapping.home_rate(currency_rate) == home_rate
