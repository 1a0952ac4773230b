"""Bank transactions: money spent or received, and received overpayments (which become Overpayment
credits)."""

from __future__ import annotations

from datetime import date

from connectors.xero.emulator.errors import XeroValidationError
from connectors.xero.emulator.records import (
    ZERO,
    BankTransactionRecord,
    ContactRecord,
    LineItemRecord,
    OverpaymentRecord,
)
from connectors.xero.emulator.rules import overpayment_lines
from connectors.xero.emulator.store.organisation import OrganisationState


class BankBook(OrganisationState):
    """The organisation's bank-transaction rules and changes."""

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
