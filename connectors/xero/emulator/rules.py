"""Xero's business rules that need only the records they judge, not the organisation: invoice status moves
and PAID <-> AUTHORISED settling, which fields a status lets change, contact statuses, what stops a
credit-note allocation, and how an overpayment is booked. ``OrgStore`` applies them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from decimal import Decimal

from connectors.xero.emulator.chart import AR_CODE
from connectors.xero.emulator.errors import XeroValidationError
from connectors.xero.emulator.records import ZERO, CreditNoteRecord, InvoiceRecord, LineItemRecord

# What a PAID invoice still takes: marking it sent does not touch the amounts a payment settled.
PAID_EDITABLE = frozenset({"SentToContact"})


def invoice_edits(due_date: date | None, reference: str | None, sent: bool | None) -> set[str]:
    """The invoice fields an update sets (by their Xero names)."""
    given = {"DueDate": due_date, "Reference": reference, "SentToContact": sent}
    return {name for name, value in given.items() if value is not None}


def check_editable(inv: InvoiceRecord, status: str, edits: Collection[str]) -> None:
    # A voided or deleted invoice is closed for good; a paid one is locked by its payments and credit
    # notes until they are removed (a part-paid AUTHORISED one still takes a new due date or reference).
    if status in ("VOIDED", "DELETED"):
        raise XeroValidationError("Invoice not of valid status for modification", element={"InvoiceID": inv.id})
    if status == "PAID" and set(edits) - PAID_EDITABLE:
        raise XeroValidationError("This document cannot be edited as it has a payment or credit note "
                                  "allocated to it.", element={"InvoiceID": inv.id})


def settle(inv: InvoiceRecord, on: date) -> None:
    """Xero flips AUTHORISED <-> PAID as the amount due reaches or leaves zero."""
    if inv.status == "AUTHORISED" and inv.amount_due <= ZERO:
        inv.status, inv.fully_paid_on = "PAID", on
    elif inv.status == "PAID" and inv.amount_due > ZERO:
        inv.status, inv.fully_paid_on = "AUTHORISED", None


def check_status_change(inv: InvoiceRecord, status: str | None, current: str) -> None:
    """Raise XeroValidationError unless an invoice in ``current`` status may move to ``status`` (None or the
    same status: no change)."""
    if not status or status == current:
        return
    allowed = {"DRAFT": {"SUBMITTED", "AUTHORISED", "DELETED"}, "SUBMITTED": {"AUTHORISED", "DELETED", "DRAFT"},
               "AUTHORISED": {"VOIDED"}}
    if status not in allowed.get(current, set()):
        raise XeroValidationError(f"Invoice not of valid status for modification to {status}.",
                                  element={"InvoiceID": inv.id})
    if status == "VOIDED" and (inv.amount_paid > ZERO or inv.allocations):
        raise XeroValidationError("This document cannot be edited as it has a payment or credit "
                                  "note allocated to it.", element={"InvoiceID": inv.id})


def check_contact_status(status: str | None) -> None:
    """Raise XeroValidationError unless ``status`` is one a contact can be given (None: unchanged)."""
    if status is not None and status not in ("ACTIVE", "ARCHIVED"):
        raise XeroValidationError(f"ContactStatus {status} is not valid.")


def allocation_problems(note: CreditNoteRecord, inv: InvoiceRecord, amount: Decimal, note_used: Decimal = ZERO,
                         invoice_used: Decimal = ZERO) -> list[str]:
    problems = []
    if note.status != "AUTHORISED":
        problems.append("Credit note not of valid status for allocation")
    if inv.status != "AUTHORISED":
        problems.append("Invoice not of valid status for modification")
    if note.contact_id != inv.contact_id:
        problems.append("The credit note and the invoice must belong to the same contact")
    if note.currency != inv.currency:
        problems.append("The credit note and the invoice must have the same currency")
    if amount <= ZERO:
        problems.append("Allocation amount must be greater than zero")
    if note_used + amount > note.remaining:
        problems.append("The amount being applied exceeds the remaining credit on the credit note")
    if invoice_used + amount > inv.amount_due:
        problems.append("The amount being applied exceeds the amount outstanding on the invoice")
    return problems


def overpayment_lines(lines: list[LineItemRecord]) -> list[LineItemRecord]:
    """The lines an overpayment is booked with: Xero takes exactly one, coded to Accounts Receivable by
    Xero itself."""
    if len(lines) != 1:
        raise XeroValidationError("An overpayment must have exactly one line item.")
    return [LineItemRecord(lines[0].description, lines[0].amount, AR_CODE)]
