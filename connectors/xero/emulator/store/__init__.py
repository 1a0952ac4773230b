"""The emulated organisation: its entities, and every change to them.

Every mutation goes through a method of ``OrgStore`` so the derived amounts, statuses, UpdatedDateUTC and the
webhook events stay consistent, whichever endpoint (or test helper) caused it. ``OrgStore`` is one object
made of one class per entity family: the shared state, lookups, currencies and chart of accounts
(``organisation``), ``contacts``, ``invoices`` (and credit notes), ``payments`` (batch payments and credit
allocations too) and ``banking`` (bank transactions, overpayments). The rules that need no store are in
``rules``, document numbering in ``numbering``, the errors in ``errors`` and the clock and seeded ids in
``clock``.
"""

from __future__ import annotations

from connectors.xero.emulator.store.banking import BankBook
from connectors.xero.emulator.store.contacts import ContactBook
from connectors.xero.emulator.store.invoices import InvoiceBook
from connectors.xero.emulator.store.organisation import ChangeListener, OrganisationState
from connectors.xero.emulator.store.payments import PaymentBook

__all__ = ["ChangeListener", "OrgStore", "OrganisationState"]


class OrgStore(ContactBook, InvoiceBook, PaymentBook, BankBook):
    """The organisation: every entity family's rules over one shared state (a dataclass, built as
    ``OrgStore(tenant_id=..., name=..., seed=...)``)."""
