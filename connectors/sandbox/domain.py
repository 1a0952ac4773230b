"""A sandbox company as Cashline domain objects (for the in-memory connector, tests and the demo)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from addon.domain.types import Allocation, Contact, CreditNote, Invoice, InvoiceStatus, Payment
from connectors.countries import country_code
from connectors.sandbox.generator import SandboxCompany, SandboxInvoice


def _stamp(day: object) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)  # type: ignore[arg-type]


def _status(inv: SandboxInvoice) -> InvoiceStatus:
    if inv.voided:
        return InvoiceStatus.VOIDED
    return InvoiceStatus.PAID if inv.amount_due <= 0 else InvoiceStatus.OPEN


def _last_change(inv: SandboxInvoice) -> date:
    if inv.voided and inv.written_off_on is not None:
        return inv.written_off_on  # voided as bad debt
    return inv.paid_date or inv.issue_date


def as_domain(company: SandboxCompany) -> tuple[list[Contact], list[Invoice], list[Payment], list[CreditNote]]:
    """Contacts, invoices, payments and credit notes exactly as a platform would report them today."""
    contacts = [Contact(remote_id=c.id, name=c.name, emails=(c.email,), currency=c.currency,
                        bank_accounts=(c.iban,), timezone=c.timezone, updated_at=_stamp(company.today),
                        mobile=c.phone.national if c.phone else None,
                        country=country_code(c.address.country) if c.address else None)
                for c in company.customers]
    emails = {c.id: c.email for c in company.customers}
    invoices = [Invoice(remote_id=i.id, number=i.number, contact_id=i.customer_id, currency=i.currency,
                        issue_date=i.issue_date, due_date=i.due_date, total=i.total, amount_due=i.amount_due,
                        amount_paid=i.amount_paid, amount_credited=i.amount_credited, status=_status(i),
                        sent=i.sent, fully_paid_on=i.paid_date, billing_email=emails[i.customer_id],
                        updated_at=_stamp(_last_change(i)))
                for i in company.invoices]
    currency = {i.id: i.currency for i in company.invoices}
    payments = [Payment(remote_id=p.id, contact_id=p.customer_id, date=p.date, amount=p.amount,
                        currency=currency[p.invoice_id], allocations=(Allocation(p.invoice_id, p.amount),),
                        updated_at=_stamp(p.date))
                for p in company.payments]
    credits = [CreditNote(remote_id=c.id, number=c.number, contact_id=c.customer_id, date=c.date,
                          currency=currency[c.invoice_id], total=c.amount, remaining=c.amount * 0,
                          allocations=(Allocation(c.invoice_id, c.amount),), reason=c.reason,
                          updated_at=_stamp(c.date))
               for c in company.credit_notes]
    return contacts, invoices, payments, credits
