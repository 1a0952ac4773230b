"""What settles an invoice: payments, batch payments (one deposit paying several invoices) and credit-note
allocations, each checked in full before anything is saved, and their deletion."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from connectors.xero.emulator.errors import XeroValidationError
from connectors.xero.emulator.records import (
    ZERO,
    AllocationRecord,
    BatchPaymentRecord,
    CreditNoteRecord,
    InvoiceRecord,
    PaymentRecord,
)
from connectors.xero.emulator.rules import allocation_problems, settle
from connectors.xero.emulator.store.organisation import OrganisationState


class PaymentBook(OrganisationState):
    """The organisation's payment, batch payment and allocation rules and changes."""

    # --- payments ------------------------------------------------------------------------
    def add_payment(self, invoice_id: str, on: date, amount: Decimal, *, reference: str | None = None,
                    account_code: str = "090", batch_id: str | None = None) -> PaymentRecord:
        """Apply a customer payment to an invoice; the invoice becomes PAID when nothing is due."""
        with self.lock:
            inv = self.applied_invoice(invoice_id)
            self.check_payment(inv, amount, account_code)
            now = self.clock.now()
            pay = PaymentRecord(self.new_id("payment"), inv.id, on, amount, now, reference, account_code,
                                batch_id=batch_id)
            self.payments[pay.id] = pay
            inv.payments.append(pay)
            inv.updated = now
            settle(inv, on)
        self._emit("INVOICE", inv.id, "UPDATE")
        return pay

    def check_payment(self, inv: InvoiceRecord, amount: Decimal, account_code: str, *,
                      already: Decimal = ZERO) -> None:
        """Raise XeroValidationError unless ``amount`` can be paid to ``inv`` into ``account_code``.

        ``already`` is what earlier elements of the same batch pay to this invoice, so a batch can be
        checked in full before any of it is saved.
        """
        if inv.status != "AUTHORISED":
            raise XeroValidationError("Invoice not of valid status for modification",
                                      element={"InvoiceID": inv.id})
        if amount <= ZERO:
            raise XeroValidationError("Payment amount must be greater than zero")
        if already + amount > inv.amount_due:
            raise XeroValidationError("Payment amount exceeds the amount outstanding on this document",
                                      element={"InvoiceID": inv.id})
        self.bank_account(account_code)

    def delete_payment(self, payment_id: str) -> PaymentRecord:
        """Delete (Status DELETED) a payment; its invoice is re-opened. A payment of a batch payment is
        refused: Xero deletes only the whole batch payment (docs/xero.md, Batch payments)."""
        with self.lock:
            pay = self.payment(payment_id)
            if pay.batch_id is not None and pay.status != "DELETED":
                raise XeroValidationError("Payments within a batch cannot be deleted.")
            return self._delete_payment(pay)

    def _delete_payment(self, pay: PaymentRecord) -> PaymentRecord:
        with self.lock:
            if pay.status == "DELETED":
                raise XeroValidationError("Payment has already been deleted")
            inv = self.invoice(pay.invoice_id)
            now = self.clock.now()
            pay.status, pay.updated, inv.updated = "DELETED", now, now
            settle(inv, pay.date)
        self._emit("INVOICE", inv.id, "UPDATE")
        return pay

    # --- batch payments ------------------------------------------------------------------
    def check_batch_item(self, inv: InvoiceRecord, amount: Decimal, account_code: str, *,
                         already: Decimal = ZERO) -> None:
        """Raise XeroValidationError unless ``amount`` can be paid to ``inv`` inside a batch payment into
        ``account_code``: a payment's rules, and Xero's batch limit that the API makes batch payments in
        the organisation's base currency only (so never in mixed currencies)."""
        if inv.currency != self.base_currency:
            raise XeroValidationError("You can only make batch payments in the organisation base currency",
                                      element={"InvoiceID": inv.id})
        self.check_payment(inv, amount, account_code, already=already)

    def create_batch_payment(self, account_code: str, on: date, items: list[tuple[str, Decimal, str | None]], *,
                             reference: str | None = None) -> BatchPaymentRecord:
        """One deposit paying several invoices (``items``: invoice id, amount, the payment's own reference):
        every payment is checked before the first is made, all carry the batch's id as BatchPaymentID."""
        with self.lock:
            self.bank_account(account_code)
            if not items:
                raise XeroValidationError("A batch payment must have at least one payment.")
            paid: dict[str, Decimal] = {}
            for invoice_id, amount, _ in items:
                inv = self.applied_invoice(invoice_id)
                self.check_batch_item(inv, amount, account_code, already=paid.get(inv.id, ZERO))
                paid[inv.id] = paid.get(inv.id, ZERO) + amount
            batch_id = self.new_id("batchpayment")
            payments = [self.add_payment(invoice_id, on, amount, reference=own or reference,
                                         account_code=account_code, batch_id=batch_id)
                        for invoice_id, amount, own in items]
            rec = BatchPaymentRecord(batch_id, account_code, on, self.clock.now(), payments, reference)
            self.batch_payments[rec.id] = rec
        return rec

    def delete_batch_payment(self, batch_payment_id: str) -> BatchPaymentRecord:
        """Delete (Status DELETED) a batch payment: each of its payments is deleted, its invoices re-opened."""
        with self.lock:
            rec = self.batch_payment(batch_payment_id)
            if rec.status == "DELETED":
                raise XeroValidationError("Batch payment has already been deleted")
            for pay in rec.payments:
                if pay.status != "DELETED":
                    self._delete_payment(pay)
            rec.status, rec.updated = "DELETED", self.clock.now()
        return rec

    # --- credit-note allocations -----------------------------------------------------------
    def allocate_credit(self, credit_note_id: str, invoice_id: str, amount: Decimal,
                        on: date) -> AllocationRecord:
        """Apply part or all of a credit note to an invoice of the same contact."""
        with self.lock:
            note = self.credit_note(credit_note_id)
            inv = self.applied_invoice(invoice_id)
            self.check_allocation(note, inv, amount)
            now = self.clock.now()
            alloc = AllocationRecord(self.new_id("allocation"), note.id, inv.id, amount, on)
            note.allocations.append(alloc)
            inv.allocations.append(alloc)
            note.updated = inv.updated = now
            if note.remaining == ZERO:
                note.status = "PAID"
            settle(inv, on)
        self._emit("INVOICE", inv.id, "UPDATE")
        self._emit("CREDITNOTE", note.id, "UPDATE")
        return alloc

    def check_allocation(self, note: CreditNoteRecord, inv: InvoiceRecord, amount: Decimal, *,
                         note_used: Decimal = ZERO, invoice_used: Decimal = ZERO) -> None:
        """Raise XeroValidationError unless ``amount`` of ``note`` can be applied to ``inv``.

        ``note_used`` and ``invoice_used`` are what earlier elements of the same batch take from the note
        and apply to the invoice, so a batch can be checked in full before any of it is saved.
        """
        problems = allocation_problems(note, inv, amount, note_used, invoice_used)
        if problems:
            raise XeroValidationError(*problems, element={"CreditNoteID": note.id})
