"""The emulated organisation: its entities, and every change to them.

Every mutation goes through a method here so the derived amounts, statuses, UpdatedDateUTC and the
webhook events stay consistent, whichever endpoint (or test helper) caused it. The rules that need no
store are in ``rules``, document numbering in ``numbering``, the errors in ``errors`` and the clock and
seeded ids in ``clock``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from connectors.sandbox.fx import NoRateError, day_rate, quantize_rate
from connectors.sandbox.generator import country_of_currency
from connectors.xero.emulator.chart import AccountRecord, default_chart
from connectors.xero.emulator.clock import Clock, stable_id
from connectors.xero.emulator.errors import UnknownEntityError, XeroValidationError, lookup
from connectors.xero.emulator.numbering import invoice_number_taken, next_credit_number, next_invoice_number
from connectors.xero.emulator.records import (
    ZERO,
    AllocationRecord,
    BankTransactionRecord,
    BatchPaymentRecord,
    ContactRecord,
    CreditNoteRecord,
    HistoryRecord,
    InvoiceRecord,
    LineItemRecord,
    OverpaymentRecord,
    PaymentRecord,
)
from connectors.xero.emulator.rules import (
    allocation_problems,
    check_contact_status,
    check_editable,
    check_status_change,
    invoice_edits,
    overpayment_lines,
    settle,
)

# (eventCategory, resourceId, eventType): what a Xero webhook announces.
ChangeListener = Callable[[str, str, str], None]


@dataclass
class OrgStore:
    tenant_id: str
    name: str
    seed: int
    base_currency: str = "GBP"
    # ISO 3166 country of the organisation (GET /Organisation CountryCode); by default its base
    # currency's country.
    country_code: str = ""
    clock: Clock = field(default_factory=Clock)
    contacts: dict[str, ContactRecord] = field(default_factory=dict)
    invoices: dict[str, InvoiceRecord] = field(default_factory=dict)
    payments: dict[str, PaymentRecord] = field(default_factory=dict)
    credit_notes: dict[str, CreditNoteRecord] = field(default_factory=dict)
    bank_transactions: dict[str, BankTransactionRecord] = field(default_factory=dict)
    overpayments: dict[str, OverpaymentRecord] = field(default_factory=dict)
    batch_payments: dict[str, BatchPaymentRecord] = field(default_factory=dict)
    accounts: dict[str, AccountRecord] = field(default_factory=default_chart)
    history: dict[str, list[HistoryRecord]] = field(default_factory=dict)
    listeners: list[ChangeListener] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # The currencies the organisation has added (GET /Currencies); the base currency always is one.
    currencies: set[str] = field(default_factory=set)
    _counter: int = 0

    def __post_init__(self) -> None:
        self.currencies.add(self.base_currency)
        self.country_code = self.country_code or country_of_currency(self.base_currency)

    # --- helpers -------------------------------------------------------------------------
    def new_id(self, kind: str) -> str:
        """A fresh, seed-deterministic id for an entity created through the API."""
        with self.lock:
            self._counter += 1
            return stable_id(self.seed, f"new-{kind}", str(self._counter))

    def _emit(self, category: str, resource_id: str, event_type: str) -> None:
        for listener in self.listeners:
            listener(category, resource_id, event_type)

    def invoice(self, invoice_id: str) -> InvoiceRecord:
        """The invoice with this id (raises UnknownEntityError)."""
        return lookup(self.invoices, invoice_id)

    def contact(self, contact_id: str) -> ContactRecord:
        """The contact with this id (raises UnknownEntityError)."""
        return lookup(self.contacts, contact_id)

    def credit_note(self, credit_note_id: str) -> CreditNoteRecord:
        """The credit note with this id (raises UnknownEntityError)."""
        return lookup(self.credit_notes, credit_note_id)

    def payment(self, payment_id: str) -> PaymentRecord:
        """The payment with this id (raises UnknownEntityError)."""
        return lookup(self.payments, payment_id)

    def applied_invoice(self, invoice_id: str) -> InvoiceRecord:
        """The invoice a payment or credit is applied to: an unknown one is a validation error in the
        request body (Xero: "Invoice could not be found"), not a 404."""
        try:
            return self.invoice(invoice_id)
        except UnknownEntityError:
            raise XeroValidationError("Invoice could not be found") from None

    def check_currency(self, code: str | None) -> None:
        """Raise XeroValidationError unless ``code`` (None: the default) is one of the organisation's
        currencies; Xero answers the same for a code that is not ISO 4217 at all."""
        if code is not None and code not in self.currencies:
            raise XeroValidationError(f"Organisation is not subscribed to currency {code}")

    # --- contacts ------------------------------------------------------------------------
    def create_contact(self, name: str, email: str | None = None, currency: str | None = None) -> ContactRecord:
        """Add a customer contact."""
        with self.lock:
            self.check_new_contact(name, currency=currency)
            rec = ContactRecord(self.new_id("contact"), name, email, currency or self.base_currency,
                                self.clock.now())
            self.contacts[rec.id] = rec
        self._emit("CONTACT", rec.id, "CREATE")
        return rec

    def check_new_contact(self, name: str, *, currency: str | None = None, claimed: Collection[str] = ()) -> None:
        """Raise XeroValidationError unless a contact called ``name`` can be added.

        ``claimed`` holds the (lower-cased) names earlier elements of the same batch add.
        """
        if not name.strip():
            raise XeroValidationError("The contact name must be specified.")
        self.check_currency(currency)
        wanted = name.lower()
        if wanted in claimed or any(c.name.lower() == wanted for c in self.contacts.values()):
            raise XeroValidationError(f"The contact name {name} is already assigned to another contact. "
                                      "The contact name must be unique across all active contacts.")

    def update_contact(self, contact_id: str, *, email: str | None = None,
                       status: str | None = None) -> ContactRecord:
        """Change a contact's email or archive it (archiving is an UPDATE event)."""
        with self.lock:
            rec = self.contact(contact_id)
            check_contact_status(status)
            rec.email = email if email is not None else rec.email
            rec.status = status or rec.status
            rec.updated = self.clock.now()
        self._emit("CONTACT", rec.id, "UPDATE")
        return rec

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
        """Delete (Status DELETED) a payment; its invoice is re-opened."""
        with self.lock:
            pay = self.payment(payment_id)
            if pay.status == "DELETED":
                raise XeroValidationError("Payment has already been deleted")
            inv = self.invoice(pay.invoice_id)
            now = self.clock.now()
            pay.status, pay.updated, inv.updated = "DELETED", now, now
            settle(inv, pay.date)
        self._emit("INVOICE", inv.id, "UPDATE")
        return pay

    # --- batch payments ----------------------------------------------------------------
    def batch_payment(self, batch_payment_id: str) -> BatchPaymentRecord:
        """The batch payment with this id (raises UnknownEntityError)."""
        return lookup(self.batch_payments, batch_payment_id)

    def account_code_of(self, account_id: str) -> str:
        """The code of the account with this AccountID (a batch payment names its account by id);
        XeroValidationError when there is none."""
        wanted = account_id.strip().lower()
        for code in self.accounts:
            if stable_id(self.seed, "account", code) == wanted:
                return code
        raise XeroValidationError("Account could not be found")

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
                    self.delete_payment(pay.id)
            rec.status, rec.updated = "DELETED", self.clock.now()
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

    # --- bank transactions and overpayments ------------------------------------------------
    def bank_account(self, code: str) -> AccountRecord:
        """The active BANK account with this code (payments and bank transactions need one)."""
        account = self.accounts.get(code)
        if account is None or not account.is_bank or account.status != "ACTIVE":
            raise XeroValidationError(f"Account code '{code}' is not a valid bank account.")
        return account

    def line_account(self, code: str | None) -> AccountRecord:
        """The account a line item is coded to: active, not a bank and not a system account."""
        if not code:
            raise XeroValidationError("Account code must be specified.")
        account = self.accounts.get(code)
        if account is None or not account.takes_line_items:
            raise XeroValidationError(f"Account code '{code}' is not a valid code for this document.")
        return account

    def create_bank_transaction(self, contact_id: str, on: date, bank_account_code: str,
                                lines: list[LineItemRecord], *, reference: str | None = None,
                                kind: str = "RECEIVE", currency: str | None = None) -> BankTransactionRecord:
        """Spend or receive money, or receive an overpayment (which becomes an Overpayment credit)."""
        with self.lock:
            contact, lines = self.check_bank_transaction(contact_id, bank_account_code, lines, kind=kind,
                                                         currency=currency)
            total = sum((line.amount for line in lines), ZERO)
            rec = BankTransactionRecord(self.new_id("banktransaction"), contact.id, on, currency or contact.currency,
                                        self.clock.now(), bank_account_code, lines, reference, kind)
            if kind == "RECEIVE-OVERPAYMENT":
                over = OverpaymentRecord(self.new_id("overpayment"), contact.id, on, rec.currency, total,
                                         rec.updated, rec.id, lines[0].description, reference)
                self.overpayments[over.id] = over
                rec.overpayment_id = over.id
            self.bank_transactions[rec.id] = rec
        return rec

    def check_bank_transaction(self, contact_id: str, bank_account_code: str, lines: list[LineItemRecord], *,
                               kind: str, currency: str | None = None) -> tuple[ContactRecord, list[LineItemRecord]]:
        """The contact and the lines as Xero books them, or XeroValidationError if the transaction cannot
        be made."""
        contact = self._existing_contact(contact_id)
        if kind not in ("RECEIVE", "SPEND", "RECEIVE-OVERPAYMENT"):
            raise XeroValidationError(f"Bank transaction type {kind} is not supported by this emulator.")
        self.check_currency(currency)
        self.bank_account(bank_account_code)
        if kind == "RECEIVE-OVERPAYMENT":
            lines = overpayment_lines(lines)
        else:
            for line in lines:
                self.line_account(line.account_code)
        if sum((line.amount for line in lines), ZERO) <= ZERO:
            raise XeroValidationError("The total must be greater than zero.")
        return contact, lines

    def overpayment(self, overpayment_id: str) -> OverpaymentRecord:
        """The overpayment with this id (raises UnknownEntityError)."""
        return lookup(self.overpayments, overpayment_id)

    def _existing_contact(self, contact_id: str) -> ContactRecord:
        try:
            return self.contact(contact_id)
        except UnknownEntityError:
            raise XeroValidationError("The contact could not be found.") from None
