"""Serialise a generated sandbox company (connectors.sandbox.generator) into the emulator's store."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from connectors.sandbox.fx import day_rate
from connectors.sandbox.generator import (
    CURRENCY_WEIGHTS,
    SandboxAddress,
    SandboxCompany,
    SandboxInvoice,
    SandboxPhone,
)
from connectors.xero.emulator.clock import Clock, stable_id
from connectors.xero.emulator.records import (
    AllocationRecord,
    ContactRecord,
    CreditNoteRecord,
    InvoiceRecord,
    PaymentRecord,
)
from connectors.xero.emulator.store import OrgStore


def _noon(day: date) -> datetime:
    # Seeded history is stamped at midday UTC on the day it happened.
    return datetime.combine(day, time(12), tzinfo=UTC)


def build_store(company: SandboxCompany, *, clock: Clock | None = None) -> OrgStore:
    """A store holding ``company``'s customers, invoices, payments and credit notes in Xero terms."""
    seed = company.seed
    store = OrgStore(tenant_id=stable_id(seed, "tenant", "org"), name=company.name, seed=seed,
                     base_currency=company.base_currency, clock=clock or Clock())
    # A multi-currency organisation: every currency the generator deals in has been added, so anything
    # the seeded customers (or Cashline on their behalf) send in their own currency is accepted.
    store.currencies.update(CURRENCY_WEIGHTS)
    store.currencies.update(cust.currency for cust in company.customers)
    for cust in company.customers:
        cid = stable_id(seed, "contact", cust.id)
        store.contacts[cid] = ContactRecord(cid, cust.name, cust.email, cust.currency,
                                            _noon(company.today.replace(day=1)), bank_account=cust.iban,
                                            account_number=cust.id, phones=_phones(cust.phone),
                                            addresses=_addresses(cust.address))
    for sinv in company.invoices:
        _add_invoice(store, sinv)
    return store


def _add_invoice(store: OrgStore, sinv: SandboxInvoice) -> None:
    seed = store.seed
    contact_id = stable_id(seed, "contact", sinv.customer_id)
    inv = InvoiceRecord(stable_id(seed, "invoice", sinv.id), sinv.number, contact_id, sinv.currency,
                        sinv.issue_date, sinv.due_date, sinv.total, _noon(sinv.issue_date), sent=sinv.sent,
                        status="VOIDED" if sinv.voided else "AUTHORISED",
                        currency_rate=day_rate(store.base_currency, sinv.currency, sinv.issue_date))
    store.invoices[inv.id] = inv
    events = [sinv.issue_date]
    for scn in sinv.credit_notes:
        note = CreditNoteRecord(stable_id(seed, "creditnote", scn.id), scn.number, contact_id, sinv.currency,
                                scn.date, scn.amount, _noon(scn.date), reference=scn.reason, status="PAID")
        alloc = AllocationRecord(stable_id(seed, "allocation", scn.id), note.id, inv.id, scn.amount, scn.date)
        note.allocations.append(alloc)
        inv.allocations.append(alloc)
        store.credit_notes[note.id] = note
        events.append(scn.date)
    for spay in sinv.payments:
        pay = PaymentRecord(stable_id(seed, "payment", spay.id), inv.id, spay.date, spay.amount,
                            _noon(spay.date), reference=f"Payment {sinv.number}")
        inv.payments.append(pay)
        store.payments[pay.id] = pay
        events.append(spay.date)
    if sinv.voided and sinv.written_off_on is not None:
        events.append(sinv.written_off_on)  # voided as bad debt that day: its last change
    if inv.status == "AUTHORISED" and inv.amount_due <= 0:
        inv.status, inv.fully_paid_on = "PAID", sinv.paid_date or max(events)
    inv.updated = _noon(max(events))


def _phones(phone: SandboxPhone | None) -> list[dict[str, str]]:
    """Xero's Phones: a real contact lists all four types, the unused ones empty."""
    out = {t: {"PhoneType": t, "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""}
           for t in ("DEFAULT", "DDI", "FAX", "MOBILE")}
    if phone is not None:
        out["MOBILE" if phone.kind == "mobile" else "DEFAULT"].update(
            PhoneNumber=phone.number, PhoneAreaCode=phone.area, PhoneCountryCode=phone.country_code)
    return list(out.values())


def _addresses(address: SandboxAddress | None) -> list[dict[str, str]]:
    """Xero's Addresses: a real contact lists both types, STREET then POBOX (the postal address, where invoices
    go), the unused one with empty fields; the generated address is the postal one."""
    street = {"AddressType": "STREET", "City": "", "Region": "", "PostalCode": "", "Country": ""}
    postal = {"AddressType": "POBOX", "City": "", "Region": "", "PostalCode": "", "Country": ""}
    if address is not None:
        postal.update(AddressLine1=address.line1, City=address.city, Region=address.region,
                      PostalCode=address.postal_code, Country=address.country)
    return [street, postal]
