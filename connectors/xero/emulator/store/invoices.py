"""Sales invoices and credit notes: raising them (numbering, currency and rate), status moves and edits,
and the invoice history."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from decimal import Decimal

from connectors.sandbox.fx import NoRateError, day_rate, quantize_rate
from connectors.xero.emulator.errors import XeroValidationError
from connectors.xero.emulator.numbering import invoice_number_taken, next_credit_number, next_invoice_number
from connectors.xero.emulator.records import ZERO, ContactRecord, CreditNoteRecord, HistoryRecord, InvoiceRecord
from connectors.xero.emulator.rules import check_editable, check_status_change, invoice_edits
from connectors.xero.emulator.store.organisation import OrganisationState


class InvoiceBook(OrganisationState):
    """The organisation's invoice and credit-note rules and changes."""

    # --- invoices ------------------------------------------------------------------------
    def create_invoice(self, contact_id: str, issue: date, due: date, total: Decimal, *,
                       number: str | None = None, status: str = "AUTHORISED", reference: str | None = None,
                       currency: str | None = None, description: str = "Services",
                       currency_rate: Decimal | None = None) -> InvoiceRecord:
        """Raise a sales (ACCREC) invoice with one line."""
        with self.lock:
            contact = self.check_new_invoice(contact_id, issue, due, total, status=status, number=number,
                                             currency=currency, currency_rate=currency_rate)
            code = currency or contact.currency
            rec = InvoiceRecord(self.new_id("invoice"), number or self.next_invoice_number(), contact.id,
                                code, issue, due, total, self.clock.now(),
                                status=status, reference=reference, description=description,
                                currency_rate=self.invoice_rate(code, issue, currency_rate))
            self.invoices[rec.id] = rec
        self._emit("INVOICE", rec.id, "CREATE")
        return rec

    def check_new_invoice(self, contact_id: str, issue: date, due: date, total: Decimal, *, status: str,
                          number: str | None = None, currency: str | None = None,
                          currency_rate: Decimal | None = None, claimed: Collection[str] = ()) -> ContactRecord:
        """The invoice's contact, or XeroValidationError if such an invoice cannot be raised.

        ``claimed`` holds the (lower-cased) invoice numbers earlier elements of the same batch take.
        """
        contact = self._existing_contact(contact_id)
        if status not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
            raise XeroValidationError(f"Invoice status {status} is not valid for a new invoice.")
        self.check_currency(currency)
        self.invoice_rate(currency or contact.currency, issue, currency_rate)
        if total <= ZERO:
            raise XeroValidationError("Invoice total must be greater than zero.")
        if due < issue:
            raise XeroValidationError("Due date must not be earlier than the invoice date.")
        if number and (number.lower() in claimed or invoice_number_taken(self.invoices, number)):
            raise XeroValidationError("Invoice # must be unique.")
        return contact

    def invoice_rate(self, currency: str, issue: date, given: Decimal | None) -> Decimal:
        """The CurrencyRate an invoice in ``currency`` raised on ``issue`` carries: 1 in the base currency
        (whatever was sent), else the rate sent, else the day rate (Xero takes XE.com's for the invoice
        date). Raises XeroValidationError for a rate that is not positive."""
        if currency == self.base_currency:
            return Decimal("1")
        if given is not None:
            if given <= ZERO:
                raise XeroValidationError("The currency rate must be greater than zero.")
            return quantize_rate(given)
        try:
            return day_rate(self.base_currency, currency, issue)
        except NoRateError:
            raise XeroValidationError(f"No exchange rate is available for {currency} in this emulator.") from None

    def next_invoice_number(self, reserved: Collection[str] = ()) -> str:
        """The next automatic invoice number, skipping numbers already chosen by hand and the (lower-cased)
        ``reserved`` ones that earlier elements of the same batch will take."""
        return next_invoice_number(self.invoices, reserved)

    def update_invoice(self, invoice_id: str, *, status: str | None = None, due_date: date | None = None,
                       reference: str | None = None, sent: bool | None = None) -> InvoiceRecord:
        """Approve, void or delete an invoice, or edit its due date/reference."""
        with self.lock:
            inv = self.invoice(invoice_id)
            self.check_invoice_update(inv, status=status, edits=invoice_edits(due_date, reference, sent))
            inv.status = status or inv.status
            # Xero does not bump UpdatedDateUTC for a DueDate/SentToContact edit on a part-paid invoice
            # (documented): the reason the connector needs a periodic full sweep.
            silent = status is None and reference is None and inv.amount_paid > ZERO
            inv.due_date = due_date or inv.due_date
            inv.reference = reference if reference is not None else inv.reference
            inv.sent = sent if sent is not None else inv.sent
            if not silent:
                inv.updated = self.clock.now()
        if not silent:
            self._emit("INVOICE", inv.id, "UPDATE")
        return inv

    def check_invoice_update(self, inv: InvoiceRecord, *, status: str | None, edits: Collection[str] = (),
                             current: str | None = None) -> None:
        """Raise XeroValidationError unless ``inv`` may be moved to ``status`` and have the fields named in
        ``edits`` (DueDate, Reference, SentToContact) changed.

        ``current`` is the status earlier elements of the same batch leave the invoice in (default: its own),
        so a batch can be checked in full before any of it is saved.
        """
        current = current or inv.status
        if edits:
            check_editable(inv, current, edits)
        check_status_change(inv, status, current)

    def add_history(self, invoice_id: str, details: str) -> HistoryRecord:
        """Append a note to the invoice's history and notes."""
        if not details.strip():
            raise XeroValidationError("The Details field is required.")
        if len(details) > 2500:
            raise XeroValidationError("The Details field must not exceed 2500 characters.")
        with self.lock:
            inv = self.invoice(invoice_id)
            rec = HistoryRecord(self.clock.now(), details)
            self.history.setdefault(inv.id, []).append(rec)
        return rec

    # --- credit notes --------------------------------------------------------------------
    def create_credit_note(self, contact_id: str, on: date, total: Decimal, *, currency: str | None = None,
                           reference: str | None = None, status: str = "AUTHORISED",
                           number: str | None = None) -> CreditNoteRecord:
        """Raise a sales credit note (ACCRECCREDIT)."""
        with self.lock:
            contact = self.check_new_credit_note(contact_id, total, status=status, currency=currency)
            number = number or next_credit_number(self.credit_notes)
            rec = CreditNoteRecord(self.new_id("creditnote"), number, contact.id, currency or contact.currency, on,
                                   total, self.clock.now(), reference=reference, status=status)
            self.credit_notes[rec.id] = rec
        self._emit("CREDITNOTE", rec.id, "CREATE")
        return rec

    def check_new_credit_note(self, contact_id: str, total: Decimal, *, status: str,
                              currency: str | None = None) -> ContactRecord:
        """The credit note's contact, or XeroValidationError if such a credit note cannot be raised."""
        contact = self._existing_contact(contact_id)
        self.check_currency(currency)
        if total <= ZERO:
            raise XeroValidationError("Credit note total must be greater than zero.")
        if status not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
            raise XeroValidationError(f"Credit note status {status} is not valid for a new credit note.")
        return contact
