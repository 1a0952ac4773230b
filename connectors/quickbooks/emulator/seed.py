"""Serialise a generated sandbox company (connectors.sandbox.generator) into QBO entities.

The behaviours and history are shared with the Xero emulator; only the wire shape is QBO's: numeric
string Ids, ``CustomerRef``/``LinkedTxn`` links, and credit memos applied through zero-amount Payments
(the way QBO records a credit applied to an invoice).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

from connectors.quickbooks.emulator.chart import CHECKING, move_balance, seed_chart
from connectors.quickbooks.emulator.store import Entity, QboStore
from connectors.sandbox.fx import day_rate
from connectors.sandbox.generator import SandboxCompany, SandboxInvoice

ZERO = Decimal("0")


def _at(day: date) -> datetime:
    # Seeded history happened during the working day; noon UTC keeps dates stable in any zone.
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


def seed_store(store: QboStore, company: SandboxCompany) -> dict[str, str]:
    """Load ``company`` into ``store`` without firing webhooks; returns generator id -> QBO Id."""
    ids: dict[str, str] = {}
    with store.lock:
        seed_chart(store)
        for cust in company.customers:
            entity: Entity = {"DisplayName": cust.name, "CompanyName": cust.name, "Active": True,
                              "Balance": ZERO, "PrimaryEmailAddr": {"Address": cust.email},
                              "CurrencyRef": {"value": cust.currency}, "Notes": f"IBAN {cust.iban}"}
            if cust.phone is not None:  # QBO's TelephoneNumber: the number as typed, free-form
                entity["Mobile" if cust.phone.kind == "mobile" else "PrimaryPhone"] = {
                    "FreeFormNumber": cust.phone.national}
            if cust.address is not None:  # QBO's PhysicalAddress: Country and CountrySubDivisionCode as typed
                a = cust.address
                fields = {"Line1": a.line1, "City": a.city, "CountrySubDivisionCode": a.region,
                          "PostalCode": a.postal_code, "Country": a.country}
                entity["BillAddr"] = {k: v for k, v in fields.items() if v}  # QBO leaves out what is empty
            ids[cust.id] = store.insert("Customer", entity, notify=False,
                                        created=_at(company.today.replace(year=company.today.year - 3)))["Id"]
        for inv in company.invoices:
            _seed_invoice(store, inv, ids)
    return ids


def _seed_invoice(store: QboStore, inv: SandboxInvoice, ids: dict[str, str]) -> None:
    customer = store.entities["Customer"][ids[inv.customer_id]]
    ref = {"value": customer["Id"], "name": customer["DisplayName"]}
    currency = dict(customer["CurrencyRef"])
    total = ZERO if inv.voided else inv.total
    invoice: Entity = {
        "DocNumber": inv.number, "TxnDate": inv.issue_date.isoformat(), "DueDate": inv.due_date.isoformat(),
        "CustomerRef": ref, "CurrencyRef": currency,
        "ExchangeRate": day_rate(currency["value"], store.currency, inv.issue_date),
        "TotalAmt": total, "Balance": inv.amount_due,
        "PrivateNote": "Voided" if inv.voided else "", "EmailStatus": "EmailSent" if inv.sent else "NotSet",
        "BillEmail": dict(customer["PrimaryEmailAddr"]), "CustomerMemo": {"value": "Thank you for your business."},
        "Line": [{"Id": "1", "LineNum": 1, "Description": "Professional services", "Amount": total,
                  "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": "1", "name": "Services"}}},
                 {"Amount": total, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}],
        "CustomField": [], "LinkedTxn": [],
    }
    events = [inv.issue_date, *(p.date for p in inv.payments), *(c.date for c in inv.credit_notes)]
    if inv.voided and inv.written_off_on is not None:
        events.append(inv.written_off_on)  # voided as bad debt that day: its last change
    ids[inv.id] = store.insert("Invoice", invoice, notify=False, created=_at(inv.issue_date))["Id"]
    customer["Balance"] += inv.amount_due
    for credit in inv.credit_notes:
        memo: Entity = {"DocNumber": credit.number, "TxnDate": credit.date.isoformat(), "CustomerRef": ref,
                        "CurrencyRef": currency,
                        "ExchangeRate": day_rate(currency["value"], store.currency, credit.date),
                        "TotalAmt": credit.amount, "Balance": ZERO,
                        "RemainingCredit": ZERO, "PrivateNote": credit.reason,
                        "CustomerMemo": {"value": credit.reason}, "CustomField": [], "LinkedTxn": [],
                        "Line": [{"Id": "1", "LineNum": 1, "Description": credit.reason, "Amount": credit.amount,
                                  "DetailType": "SalesItemLineDetail",
                                  "SalesItemLineDetail": {"ItemRef": {"value": "1", "name": "Services"}}}]}
        ids[credit.id] = store.insert("CreditMemo", memo, notify=False, created=_at(credit.date))["Id"]
        _seed_payment(store, ref, currency, credit.date, ZERO,
                      [("Invoice", ids[inv.id], credit.amount), ("CreditMemo", ids[credit.id], credit.amount)])
    for pay in inv.payments:
        ids[pay.id] = _seed_payment(store, ref, currency, pay.date, pay.amount,
                                    [("Invoice", ids[inv.id], pay.amount)])
    stamp = _at(max(events)).isoformat(timespec="seconds")
    store.entities["Invoice"][ids[inv.id]]["MetaData"]["LastUpdatedTime"] = stamp


def _seed_payment(store: QboStore, ref: Entity, currency: Entity, day: date, total: Decimal,
                  links: list[tuple[str, str, Decimal]]) -> str:
    payment: Entity = {"TxnDate": day.isoformat(), "CustomerRef": ref, "CurrencyRef": currency,
                       "TotalAmt": total, "UnappliedAmt": ZERO, "ProcessPayment": False,
                       "DepositToAccountRef": {"value": CHECKING, "name": "Checking"},
                       "Line": [{"Amount": amt, "LinkedTxn": [{"TxnId": tid, "TxnType": kind}]}
                                for kind, tid, amt in links]}
    pid: str = store.insert("Payment", payment, notify=False, created=_at(day))["Id"]
    move_balance(store, CHECKING, total)
    for kind, tid, _ in links:
        target = store.entities[kind][tid]
        target["LinkedTxn"].append({"TxnId": pid, "TxnType": "Payment"})
        target["MetaData"]["LastUpdatedTime"] = _at(day).isoformat(timespec="seconds")
    return pid
