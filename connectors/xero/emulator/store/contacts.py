"""Contacts: adding one (names unique, within a batch too), changing its email, archiving it."""

from __future__ import annotations

from collections.abc import Collection

from connectors.xero.emulator.errors import XeroValidationError
from connectors.xero.emulator.records import ContactRecord
from connectors.xero.emulator.rules import check_contact_status
from connectors.xero.emulator.store.organisation import OrganisationState


class ContactBook(OrganisationState):
    """The organisation's contact rules and changes."""

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
