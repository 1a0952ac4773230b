"""The emulator's Accounting API over real HTTP: Xero's envelopes, filters, paging, errors, idempotency."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from connectors.sandbox.limits import Limits
from connectors.xero.emulator.records import InvoiceRecord
from connectors.xero.emulator.testing import XeroSandbox, authorize, start_xero_emulator

MS_DATE = re.compile(r"^/Date\(\d+\+0000\)/$")


def api_url(sandbox: XeroSandbox, path: str) -> str:
    return sandbox.api_url(path)


def open_invoice(sandbox: XeroSandbox) -> InvoiceRecord:
    return next(i for i in sandbox.store.invoices.values() if i.status == "AUTHORISED" and i.amount_due > 10)


def test_invoices_envelope_uses_xero_date_format(sandbox: XeroSandbox, api: requests.Session) -> None:
    resp = api.get(api_url(sandbox, "/Invoices"))
    assert resp.status_code == 200
    body = resp.json(parse_float=Decimal)
    assert body["Status"] == "OK"
    assert MS_DATE.match(body["DateTimeUTC"])
    assert len(body["Invoices"]) == 40
    assert "pagination" not in body
    inv = body["Invoices"][0]
    assert MS_DATE.match(inv["Date"])
    assert MS_DATE.match(inv["DueDate"])
    assert MS_DATE.match(inv["UpdatedDateUTC"])
    assert inv["AmountDue"] == inv["Total"] - inv["AmountPaid"] - inv["AmountCredited"]


def test_amounts_stay_consistent_across_seeded_invoices(sandbox: XeroSandbox, api: requests.Session) -> None:
    for inv in api.get(api_url(sandbox, "/Invoices")).json(parse_float=Decimal)["Invoices"]:
        if inv["Status"] == "VOIDED":
            assert inv["AmountDue"] == 0
            continue
        assert inv["AmountPaid"] == sum((p["Amount"] for p in inv["Payments"]), Decimal(0))
        assert inv["AmountCredited"] == sum((c["AppliedAmount"] for c in inv["CreditNotes"]), Decimal(0))
        assert (inv["Status"] == "PAID") == (inv["AmountDue"] == 0)


def test_paging_returns_pagination_block(sandbox: XeroSandbox, api: requests.Session) -> None:
    first = api.get(api_url(sandbox, "/Invoices"), params={"page": 1, "pageSize": 15}).json()
    third = api.get(api_url(sandbox, "/Invoices"), params={"page": 3, "pageSize": 15}).json()
    assert first["pagination"] == {"page": 1, "pageSize": 15, "pageCount": 3, "itemCount": 40}
    assert len(first["Invoices"]) == 15
    assert len(third["Invoices"]) == 10
    assert not {i["InvoiceID"] for i in first["Invoices"]} & {i["InvoiceID"] for i in third["Invoices"]}


def test_statuses_ids_and_contact_filters(sandbox: XeroSandbox, api: requests.Session) -> None:
    some = list(sandbox.store.invoices.values())[:3]
    by_ids = api.get(api_url(sandbox, "/Invoices"), params={"IDs": ",".join(i.id.upper() for i in some)}).json()
    assert {i["InvoiceID"] for i in by_ids["Invoices"]} == {i.id for i in some}
    paid = api.get(api_url(sandbox, "/Invoices"), params={"Statuses": "PAID"}).json()["Invoices"]
    assert paid
    assert all(i["Status"] == "PAID" for i in paid)
    contact = some[0].contact_id
    mine = api.get(api_url(sandbox, "/Invoices"), params={"ContactIDs": contact}).json()["Invoices"]
    expected = sum(1 for i in sandbox.store.invoices.values() if i.contact_id == contact)
    assert len(mine) == expected
    assert all(i["Contact"]["ContactID"] == contact for i in mine)


def test_where_filter(sandbox: XeroSandbox, api: requests.Session) -> None:
    where = 'Type=="ACCREC" AND Status=="AUTHORISED" AND AmountDue > 0'
    got = api.get(api_url(sandbox, "/Invoices"), params={"where": where}).json()["Invoices"]
    expected = [i for i in sandbox.store.invoices.values() if i.status == "AUTHORISED" and i.amount_due > 0]
    assert len(got) == len(expected) > 0


def test_where_on_unknown_field_is_a_query_parse_error(sandbox: XeroSandbox, api: requests.Session) -> None:
    resp = api.get(api_url(sandbox, "/Invoices"), params={"where": 'Colour=="red"'})
    assert resp.status_code == 400
    assert resp.json()["Type"] == "QueryParseException"
    assert "Colour" in resp.json()["Message"]


def test_if_modified_since(sandbox: XeroSandbox, api: requests.Session) -> None:
    inv = open_invoice(sandbox)
    cutoff = sandbox.store.clock.now() - timedelta(seconds=1)
    assert api.get(api_url(sandbox, "/Invoices"),
                   headers={"If-Modified-Since": cutoff.strftime("%Y-%m-%dT%H:%M:%S")}).json()["Invoices"] == []
    api.put(api_url(sandbox, f"/Invoices/{inv.id}/History"), json={"HistoryRecords": [{"Details": "x"}]})
    api.post(api_url(sandbox, "/Payments"), json={"Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "090"},
                                                  "Date": "2026-11-02", "Amount": 1})
    changed = api.get(api_url(sandbox, "/Invoices"),
                      headers={"If-Modified-Since": cutoff.strftime("%a, %d %b %Y %H:%M:%S GMT")}).json()
    assert [i["InvoiceID"] for i in changed["Invoices"]] == [inv.id]


def test_payment_updates_invoice_and_status(sandbox: XeroSandbox, api: requests.Session) -> None:
    inv = open_invoice(sandbox)
    due = inv.amount_due
    resp = api.put(api_url(sandbox, "/Payments"), json={"Payments": [
        {"Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "090"}, "Date": "2026-11-02", "Amount": str(due)}]})
    assert resp.status_code == 200, resp.text
    payment = resp.json()["Payments"][0]
    after = api.get(api_url(sandbox, f"/Invoices/{inv.id}")).json(parse_float=Decimal)["Invoices"][0]
    assert after["Status"] == "PAID"
    assert after["AmountDue"] == 0
    assert after["AmountPaid"] == inv.total - inv.amount_credited
    assert MS_DATE.match(after["FullyPaidOnDate"])
    deleted = api.post(api_url(sandbox, f"/Payments/{payment['PaymentID']}"), json={"Status": "DELETED"})
    assert deleted.json()["Payments"][0]["Status"] == "DELETED"
    reopened = api.get(api_url(sandbox, f"/Invoices/{inv.id}")).json(parse_float=Decimal)["Invoices"][0]
    assert reopened["Status"] == "AUTHORISED"
    assert reopened["AmountDue"] == due


def test_payments_sent_together_refuse_what_the_earlier_ones_leave_unpaid(sandbox: XeroSandbox,
                                                                         api: requests.Session) -> None:
    # The first payment is saved (Xero keeps the valid elements of a refused batch); the second is judged
    # against what the first leaves due, and refused.
    inv = open_invoice(sandbox)
    before, due = len(sandbox.store.payments), inv.amount_due
    resp = api.put(api_url(sandbox, "/Payments"), json={"Payments": [
        {"Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "090"}, "Date": "2026-11-02", "Amount": 1},
        {"Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "090"}, "Date": "2026-11-02",
         "Amount": str(inv.amount_due)}]})
    assert resp.status_code == 400
    body = resp.json()
    assert body["Type"] == "ValidationException"
    assert body["ErrorNumber"] == 10
    assert "exceeds the amount outstanding" in body["Elements"][0]["ValidationErrors"][0]["Message"]
    assert len(sandbox.store.payments) == before + 1
    assert inv.amount_due == due - 1


def test_credit_note_allocation_reduces_amount_due(sandbox: XeroSandbox, api: requests.Session) -> None:
    inv = open_invoice(sandbox)
    due = inv.amount_due
    note = api.put(api_url(sandbox, "/CreditNotes"), json={"CreditNotes": [{
        "Type": "ACCRECCREDIT", "Contact": {"ContactID": inv.contact_id}, "Date": "2026-11-02",
        "Status": "AUTHORISED", "LineItems": [{"Description": "pricing", "Quantity": 1, "UnitAmount": 5}]}]}).json()
    note_id = note["CreditNotes"][0]["CreditNoteID"]
    alloc = api.put(api_url(sandbox, f"/CreditNotes/{note_id}/Allocations"), json={"Allocations": [
        {"Invoice": {"InvoiceID": inv.id}, "Amount": 5, "Date": "2026-11-02"}]})
    assert alloc.status_code == 200, alloc.text
    after = api.get(api_url(sandbox, f"/Invoices/{inv.id}")).json(parse_float=Decimal)["Invoices"][0]
    assert after["AmountCredited"] == inv.amount_credited
    assert after["AmountDue"] == due - 5
    note_after = api.get(api_url(sandbox, f"/CreditNotes/{note_id}")).json()["CreditNotes"][0]
    assert note_after["RemainingCredit"] == 0
    assert note_after["Status"] == "PAID"
    over = api.put(api_url(sandbox, f"/CreditNotes/{note_id}/Allocations"), json={"Allocations": [
        {"Invoice": {"InvoiceID": inv.id}, "Amount": 1, "Date": "2026-11-02"}]})
    assert over.status_code == 400
    assert over.json()["Type"] == "ValidationException"


def test_history_put_and_get(sandbox: XeroSandbox, api: requests.Session) -> None:
    inv = open_invoice(sandbox)
    put = api.put(api_url(sandbox, f"/Invoices/{inv.id}/History"),
                  json={"HistoryRecords": [{"Details": "Reminder sent"}]})
    assert put.status_code == 200
    assert put.json()["HistoryRecords"][0]["Details"] == "Reminder sent"
    got = api.get(api_url(sandbox, f"/Invoices/{inv.id}/History")).json()["HistoryRecords"]
    assert [h["Details"] for h in got] == ["Reminder sent"]
    assert MS_DATE.match(got[0]["DateUTC"])


def test_void_invoice_and_voiding_paid_invoice_rejected(sandbox: XeroSandbox, api: requests.Session) -> None:
    unpaid = next(i for i in sandbox.store.invoices.values() if i.status == "AUTHORISED" and not i.payments
                  and not i.allocations)
    voided = api.post(api_url(sandbox, f"/Invoices/{unpaid.id}"), json={"Status": "VOIDED"})
    assert voided.json()["Invoices"][0]["Status"] == "VOIDED"
    assert voided.json()["Invoices"][0]["AmountDue"] == 0
    paid = next(i for i in sandbox.store.invoices.values() if i.status == "PAID")
    refused = api.post(api_url(sandbox, f"/Invoices/{paid.id}"), json={"Status": "VOIDED"})
    assert refused.status_code == 400
    assert refused.json()["Elements"][0]["InvoiceID"] == paid.id


def test_bank_transaction_receive(sandbox: XeroSandbox, api: requests.Session) -> None:
    contact = next(iter(sandbox.store.contacts.values()))
    resp = api.put(api_url(sandbox, "/BankTransactions"), json={"BankTransactions": [{
        "Type": "RECEIVE", "Contact": {"ContactID": contact.id}, "Date": "2026-11-03",
        "BankAccount": {"Code": "090"},
        "LineItems": [{"Description": "refund", "Quantity": 1, "UnitAmount": 12.5, "AccountCode": "200"}]}]})
    assert resp.status_code == 200, resp.text
    txn = resp.json()["BankTransactions"][0]
    assert txn["Type"] == "RECEIVE"
    assert txn["Total"] == 12.5
    listed = api.get(api_url(sandbox, "/BankTransactions")).json()["BankTransactions"]
    assert [t["BankTransactionID"] for t in listed] == [txn["BankTransactionID"]]


def test_idempotency_key_replays_first_response(sandbox: XeroSandbox, api: requests.Session) -> None:
    inv = open_invoice(sandbox)
    body = {"Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "090"}, "Date": "2026-11-02", "Amount": 2}
    first = api.put(api_url(sandbox, "/Payments"), json=body, headers={"Idempotency-Key": "pay-1"})
    second = api.put(api_url(sandbox, "/Payments"), json=body, headers={"Idempotency-Key": "pay-1"})
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert sum(1 for p in sandbox.store.payments.values() if p.invoice_id == inv.id and p.amount == 2) == 1
    too_long = api.put(api_url(sandbox, "/Payments"), json=body, headers={"Idempotency-Key": "k" * 129})
    assert too_long.status_code == 400


@pytest.mark.parametrize(("headers", "status"), [
    ({"Authorization": None}, 401),
    ({"Authorization": "Bearer not-a-token"}, 401),
    ({"xero-tenant-id": None}, 403),
    ({"xero-tenant-id": "00000000-0000-0000-0000-000000000000"}, 403),
])
def test_auth_and_tenant_failures(sandbox: XeroSandbox, api: requests.Session, headers: dict[str, str | None],
                                  status: int) -> None:
    merged = {**api.headers, **headers}
    resp = requests.get(api_url(sandbox, "/Invoices"), headers={k: v for k, v in merged.items() if v},
                        timeout=5)
    assert resp.status_code == status
    assert resp.json()["Status"] == status
    assert resp.json()["Title"] in ("Unauthorized", "Forbidden")


def test_expired_access_token_is_refused(sandbox: XeroSandbox, api: requests.Session) -> None:
    sandbox.store.clock.advance(31 * 60)
    resp = api.get(api_url(sandbox, "/Invoices"))
    assert resp.status_code == 401
    assert resp.json()["Detail"].startswith("TokenExpired")


def test_unknown_entity_is_404(sandbox: XeroSandbox, api: requests.Session) -> None:
    for path in ("/Invoices/8b3a3f7e-0000-4000-8000-000000000000", "/Contacts/nope", "/CreditNotes/nope",
                 "/Payments/nope"):
        resp = api.get(api_url(sandbox, path))
        assert resp.status_code == 404, path


def test_malformed_json_is_400(sandbox: XeroSandbox, api: requests.Session) -> None:
    resp = api.put(api_url(sandbox, "/Payments"), data=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["Type"] == "PostDataInvalidException"


def test_bad_date_is_a_validation_exception(sandbox: XeroSandbox, api: requests.Session) -> None:
    inv = open_invoice(sandbox)
    resp = api.put(api_url(sandbox, "/Payments"), json={
        "Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "090"}, "Date": "2026-13-45", "Amount": 1})
    assert resp.status_code == 400
    assert resp.json()["Elements"][0]["ValidationErrors"][0]["Message"] == "The date '2026-13-45' is not a valid date."


def test_rate_limit_headers_and_429() -> None:
    with start_xero_emulator(customers=2, invoices=3, limits=Limits(per_minute=3, per_day=100, concurrent=5)) as sb:
        http = sb.user_session()
        seen = [http.get(api_url(sb, "/Contacts")) for _ in range(4)]
        assert [r.status_code for r in seen] == [200, 200, 200, 429]
        assert [r.headers["X-MinLimit-Remaining"] for r in seen[:3]] == ["2", "1", "0"]
        assert seen[0].headers["X-DayLimit-Remaining"] == "99"
        limited = seen[3]
        assert limited.headers["X-Rate-Limit-Problem"] == "minute"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        counters = sb.limiter.tenants[sb.tenant_id]
        assert counters.served == 3
        assert counters.rejected["minute"] == 1


def test_day_limit() -> None:
    with start_xero_emulator(customers=2, invoices=3, limits=Limits(per_minute=50, per_day=2, concurrent=5)) as sb:
        http = sb.user_session()
        statuses = [http.get(api_url(sb, "/Contacts")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert http.get(api_url(sb, "/Contacts")).headers["X-Rate-Limit-Problem"] == "day"


def test_silent_due_date_edit_on_part_paid_invoice(sandbox: XeroSandbox, api: requests.Session) -> None:
    inv = open_invoice(sandbox)
    api.post(api_url(sandbox, "/Payments"), json={"Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "090"},
                                                  "Date": "2026-11-02", "Amount": 1})
    stamp = inv.updated
    cutoff = (stamp + timedelta(milliseconds=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    api.post(api_url(sandbox, f"/Invoices/{inv.id}"), json={"DueDate": "2027-01-31"})
    assert inv.due_date.isoformat() == "2027-01-31"
    assert inv.updated == stamp
    assert api.get(api_url(sandbox, "/Invoices"), headers={"If-Modified-Since": cutoff}).json()["Invoices"] == []
    assert datetime.now(UTC) > stamp


def test_concurrent_limit() -> None:
    with start_xero_emulator(customers=2, invoices=3, limits=Limits(per_minute=50, per_day=100, concurrent=2)) as sb:
        http = sb.user_session()
        # Two calls already in flight for this tenant (held open by other workers).
        assert sb.limiter.acquire(sb.tenant_id).allowed
        assert sb.limiter.acquire(sb.tenant_id).allowed
        resp = http.get(api_url(sb, "/Contacts"))
        assert resp.status_code == 429
        assert resp.headers["X-Rate-Limit-Problem"] == "concurrent"
        sb.limiter.release(sb.tenant_id)
        assert http.get(api_url(sb, "/Contacts")).status_code == 200
        assert sb.limiter.tenants[sb.tenant_id].in_flight == 1  # the emulator released its own slot


def test_invoice_lifecycle(sandbox: XeroSandbox, api: requests.Session) -> None:
    contact = next(iter(sandbox.store.contacts))
    made = api.put(api_url(sandbox, "/Invoices"), json={"Invoices": [{
        "Type": "ACCREC", "Contact": {"ContactID": contact}, "Date": "2026-11-03", "DueDate": "2026-12-03",
        "LineItems": [{"Description": "work", "Quantity": 2, "UnitAmount": 50}]}]})
    inv = made.json(parse_float=Decimal)["Invoices"][0]
    assert inv["Status"] == "DRAFT"
    assert inv["Total"] == inv["AmountDue"] == Decimal("100.00")
    pay = {"Invoice": {"InvoiceID": inv["InvoiceID"]}, "Account": {"Code": "090"}, "Date": "2026-11-04", "Amount": 1}
    assert api.put(api_url(sandbox, "/Payments"), json=pay).status_code == 400  # not AUTHORISED yet
    url = api_url(sandbox, f"/Invoices/{inv['InvoiceID']}")
    assert api.post(url, json={"Status": "AUTHORISED"}).json()["Invoices"][0]["Status"] == "AUTHORISED"
    assert api.post(url, json={"Status": "DELETED"}).status_code == 400  # authorised invoices are voided
    draft = api.put(api_url(sandbox, "/Invoices"), json={
        "Contact": {"ContactID": contact}, "Date": "2026-11-03", "Status": "SUBMITTED",
        "LineItems": [{"Description": "more", "Quantity": 1, "UnitAmount": 5}]}).json()["Invoices"][0]
    deleted = api.post(api_url(sandbox, f"/Invoices/{draft['InvoiceID']}"), json={"Status": "DELETED"})
    assert deleted.json()["Invoices"][0]["Status"] == "DELETED"
    missing_contact = api.put(api_url(sandbox, "/Invoices"), json={
        "Contact": {"ContactID": "00000000-0000-0000-0000-000000000000"}, "Date": "2026-11-03",
        "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 5}]})
    assert missing_contact.status_code == 400
    assert missing_contact.json()["Elements"][0]["ValidationErrors"][0]["Message"] == "The contact could not be found."


def test_summarize_errors_false_returns_per_element_errors(sandbox: XeroSandbox, api: requests.Session) -> None:
    inv = open_invoice(sandbox)
    paid = next(i for i in sandbox.store.invoices.values() if i.status == "PAID")
    good = {"Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "090"}, "Date": "2026-11-02", "Amount": 1}
    bad = {**good, "Invoice": {"InvoiceID": paid.id}}
    resp = api.put(api_url(sandbox, "/Payments"), params={"summarizeErrors": "false"},
                   json={"Payments": [good, bad]})
    assert resp.status_code == 200
    ok, failed = resp.json()["Payments"]
    assert ok["StatusAttributeString"] == "OK"
    assert ok["Amount"] == 1
    assert failed["StatusAttributeString"] == "ERROR"
    assert failed["ValidationErrors"] == [{"Message": "Invoice not of valid status for modification"}]


def test_extra_redirect_uri_can_be_registered() -> None:
    with start_xero_emulator(customers=2, invoices=3, redirect_uris=("http://localhost/xero/callback",)) as sb:
        tokens = authorize(sb, redirect_uri="http://localhost/xero/callback")
        assert tokens.access_token


@pytest.mark.parametrize("bad", [{"Invoice": "paid"}, {"Amount": 0}, {"Account": {"Code": "200"}}],
                         ids=["paid-invoice", "zero-amount", "not-a-bank-account"])
def test_payments_with_one_bad_element_save_the_good_one(sandbox: XeroSandbox, api: requests.Session,
                                                          bad: dict[str, object]) -> None:
    # summarizeErrors defaults to true: the invalid element is answered with a 400, the valid one is saved.
    inv = open_invoice(sandbox)
    paid = next(i for i in sandbox.store.invoices.values() if i.status == "PAID")
    good = {"Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "090"}, "Date": "2026-11-02", "Amount": 1}
    wrong = {**good, **bad}
    if bad.get("Invoice") == "paid":
        wrong["Invoice"] = {"InvoiceID": paid.id}
    before, due = len(sandbox.store.payments), inv.amount_due
    resp = api.put(api_url(sandbox, "/Payments"), json={"Payments": [good, wrong]})
    assert resp.status_code == 400
    assert resp.json()["Type"] == "ValidationException"
    assert len(resp.json()["Elements"]) == 1
    assert len(sandbox.store.payments) == before + 1
    assert inv.amount_due == due - 1


def test_allocation_batch_over_the_remaining_credit_allocates_nothing(sandbox: XeroSandbox,
                                                                     api: requests.Session) -> None:
    inv = open_invoice(sandbox)
    note = api.put(api_url(sandbox, "/CreditNotes"), json={
        "Type": "ACCRECCREDIT", "Contact": {"ContactID": inv.contact_id}, "Date": "2026-11-02",
        "Status": "AUTHORISED", "LineItems": [{"Description": "pricing", "Quantity": 1, "UnitAmount": 5}]}).json()
    note_id = note["CreditNotes"][0]["CreditNoteID"]
    due = inv.amount_due
    # 2 + 4 is more than the note's 5 of credit: the batch fails as a whole, the first allocation too.
    resp = api.put(api_url(sandbox, f"/CreditNotes/{note_id}/Allocations"), json={"Allocations": [
        {"Invoice": {"InvoiceID": inv.id}, "Amount": 2, "Date": "2026-11-02"},
        {"Invoice": {"InvoiceID": inv.id}, "Amount": 4, "Date": "2026-11-02"}]})
    assert resp.status_code == 400
    assert "exceeds the remaining credit" in resp.json()["Elements"][0]["ValidationErrors"][0]["Message"]
    assert sandbox.store.credit_note(note_id).allocations == []
    assert inv.amount_due == due


def test_invoice_number_must_be_unique(sandbox: XeroSandbox, api: requests.Session) -> None:
    taken = open_invoice(sandbox)
    contact = taken.contact_id
    new = {"Type": "ACCREC", "Contact": {"ContactID": contact}, "Date": "2026-11-03",
           "LineItems": [{"Description": "work", "Quantity": 1, "UnitAmount": 5}]}
    before = len(sandbox.store.invoices)
    dup = api.put(api_url(sandbox, "/Invoices"), json={**new, "InvoiceNumber": taken.number})
    assert dup.status_code == 400
    assert dup.json()["Elements"][0]["ValidationErrors"][0]["Message"] == "Invoice # must be unique."
    assert len(sandbox.store.invoices) == before
    # A number the user chose ahead of the sequence is skipped by the next automatic one.
    ahead = f"INV-{before + 1:06d}"
    mine = api.put(api_url(sandbox, "/Invoices"), json={**new, "InvoiceNumber": ahead}).json()["Invoices"][0]
    auto = api.put(api_url(sandbox, "/Invoices"), json=new).json()["Invoices"][0]
    assert mine["InvoiceNumber"] == ahead
    assert auto["InvoiceNumber"] not in {i.number for i in sandbox.store.invoices.values() if i.id != auto["InvoiceID"]}


def test_where_can_name_any_field_the_entity_returns(sandbox: XeroSandbox, api: requests.Session) -> None:
    # ``where`` is evaluated on a cheap summary of each record; it must know every field the full one has.
    pay = next(p for p in sandbox.store.payments.values() if p.status == "AUTHORISED")
    contact = sandbox.store.invoices[pay.invoice_id].contact_id
    by_contact = api.get(api_url(sandbox, "/Payments"),
                         params={"where": f'Invoice.Contact.ContactID==Guid("{contact}") AND Account.Code=="090"'})
    assert by_contact.status_code == 200, by_contact.text
    expected = {p.id for p in sandbox.store.payments.values()
                if sandbox.store.invoices[p.invoice_id].contact_id == contact and p.account_code == "090"}
    assert {p["PaymentID"] for p in by_contact.json()["Payments"]} == expected
    assert pay.id in expected
    note = sandbox.store.create_credit_note(contact, date(2026, 11, 2), Decimal("5.00"))
    name = sandbox.store.contacts[contact].name
    notes = api.get(api_url(sandbox, "/CreditNotes"), params={"where": f'Contact.Name=="{name}" AND SubTotal > 0'})
    assert notes.status_code == 200, notes.text
    assert note.id in {n["CreditNoteID"] for n in notes.json()["CreditNotes"]}


def test_concurrent_requests_with_one_idempotency_key_create_once(sandbox: XeroSandbox,
                                                                  api: requests.Session) -> None:
    # A retry can arrive while the first attempt is still being handled (a client timed out on it).
    inv = open_invoice(sandbox)
    body = {"Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "090"}, "Date": "2026-11-02", "Amount": 3}
    answers: list[requests.Response] = []

    def send() -> None:
        answers.append(requests.put(api_url(sandbox, "/Payments"), json=body, timeout=10,
                                    headers={**api.headers, "Idempotency-Key": "slow-1"}))

    with sandbox.store.lock:  # keep the first attempt busy until the retry has arrived
        threads = [threading.Thread(target=send) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.5)
    for t in threads:
        t.join(10)
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].content == answers[1].content
    assert sum(1 for p in sandbox.store.payments.values() if p.invoice_id == inv.id and p.amount == 3) == 1


def test_order_sorts_before_paging(sandbox: XeroSandbox, api: requests.Session) -> None:
    totals = sorted((i.total for i in sandbox.store.invoices.values()), reverse=True)
    top = api.get(api_url(sandbox, "/Invoices"), params={"order": "Total DESC", "page": 1, "pageSize": 5})
    assert [i["Total"] for i in top.json(parse_float=Decimal)["Invoices"]] == totals[:5]
    by_due = api.get(api_url(sandbox, "/Invoices"), params={"order": "DueDate, InvoiceNumber ASC"}).json()
    keys = [(sandbox.store.invoice(i["InvoiceID"]).due_date, i["InvoiceNumber"]) for i in by_due["Invoices"]]
    assert keys == sorted(keys)
    contacts = api.get(api_url(sandbox, "/Contacts"), params={"order": "Name DESC"}).json()["Contacts"]
    names = [c["Name"] for c in contacts]
    assert names == sorted(names, key=str.lower, reverse=True)
    bad = api.get(api_url(sandbox, "/Invoices"), params={"order": "Colour"})
    assert bad.status_code == 400
    assert "Colour" in bad.json()["Message"]


def test_payments_sent_together_are_separate_payments_not_a_batch_payment(
        sandbox: XeroSandbox, api: requests.Session) -> None:
    # Only PUT /BatchPayments makes a batch payment; Xero gives BatchPaymentID to its payments alone.
    inv = open_invoice(sandbox)
    one = {"Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "090"}, "Date": "2026-11-02", "Amount": 1}
    batch = api.put(api_url(sandbox, "/Payments"), json={"Payments": [one, one]}).json()["Payments"]
    assert [p.get("BatchPaymentID") for p in batch] == [None, None]
    assert not sandbox.store.batch_payments
    single = api.put(api_url(sandbox, "/Payments"), json={"Payments": [one]}).json()["Payments"]
    assert single[0].get("BatchPaymentID") is None
    each = api.put(api_url(sandbox, "/Payments"), params={"summarizeErrors": "false"},
                   json={"Payments": [one, one]}).json()["Payments"]
    assert [p["StatusAttributeString"] for p in each] == ["OK", "OK"]
    assert [p.get("BatchPaymentID") for p in each] == [None, None]


def test_per_element_payments_are_checked_against_what_earlier_elements_paid(
        sandbox: XeroSandbox, api: requests.Session) -> None:
    # summarizeErrors=false saves each element in turn, so the second sees the first's payment.
    inv = open_invoice(sandbox)
    due = inv.amount_due
    pay = {"Invoice": {"InvoiceID": inv.id}, "Account": {"Code": "090"}, "Date": "2026-11-02", "Amount": str(due)}
    ok, failed = api.put(api_url(sandbox, "/Payments"), params={"summarizeErrors": "false"},
                         json={"Payments": [pay, pay]}).json()["Payments"]
    assert ok["StatusAttributeString"] == "OK"
    assert failed["StatusAttributeString"] == "ERROR"
    assert failed["HasValidationErrors"] is True
    assert failed["ValidationErrors"] == [{"Message": "Invoice not of valid status for modification"}]
    assert sandbox.store.invoices[inv.id].status == "PAID"
