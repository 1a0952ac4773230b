"""Which OAuth scope each Accounting API resource needs: the one table both the emulator (to refuse a call
as Xero does) and the connector (to name what a refused call lacked) read.

Sources (docs/xero.md, "Scopes"): the broad scopes per operation come from the OpenAPI spec's ``security``
blocks (``xero_accounting.yaml``); the granular ones from Xero's Granular Scopes FAQ and the scope table
quoted by Apideck's "Xero Scopes: What Changed" (accounting.invoices covers credit notes, invoices, linked
transactions, purchase orders, quotes, repeating invoices and items; accounting.payments batch payments,
over-, pre- and payments; accounting.banktransactions bank transactions and transfers; accounting.manualjournals
manual journals). A resource is reachable through any of its families: apps created before 2 March 2026
may mix broad and granular scopes until September 2027.

A GET needs a family or its ``.read`` variant; any other method needs the family itself. A sub-resource
(``/Invoices/{id}/History``, ``/CreditNotes/{id}/Allocations``) needs what its parent needs.
"""

from __future__ import annotations

from collections.abc import Collection

INVOICES, PAYMENTS, BANK = "accounting.invoices", "accounting.payments", "accounting.banktransactions"
JOURNALS, TRANSACTIONS = "accounting.manualjournals", "accounting.transactions"
CONTACTS, SETTINGS = "accounting.contacts", "accounting.settings"

# Resource (first path segment under /api.xro/2.0) -> the scope families that reach it, the one to ask a
# new app for first (granular where there is one: ours was created after 2 March 2026).
FAMILIES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("Invoices", "CreditNotes", "Quotes", "PurchaseOrders", "RepeatingInvoices",
                     "LinkedTransactions"), (INVOICES, TRANSACTIONS)),
    # Items were a settings resource (the spec) and are an invoices one too under granular scopes.
    "Items": (INVOICES, SETTINGS),
    **dict.fromkeys(("Payments", "BatchPayments", "Overpayments", "Prepayments"), (PAYMENTS, TRANSACTIONS)),
    **dict.fromkeys(("BankTransactions", "BankTransfers"), (BANK, TRANSACTIONS)),
    "ManualJournals": (JOURNALS, TRANSACTIONS),
    **dict.fromkeys(("Contacts", "ContactGroups"), (CONTACTS,)),
    **dict.fromkeys(("Organisation", "Accounts", "Currencies", "TaxRates", "TrackingCategories",
                     "BrandingThemes", "Users", "InvoiceReminders"), (SETTINGS,)),
}

# Scopes the identity server knows; anything else on a consent request is ``invalid_scope``.
_REPORTS = ("aged", "balancesheet", "banksummary", "budgetsummary", "executivesummary", "profitandloss",
            "trialbalance", "taxreports", "tenninetynine")
KNOWN: frozenset[str] = frozenset({
    "openid", "profile", "email", "offline_access",
    *(f"{family}{suffix}" for family in (TRANSACTIONS, CONTACTS, SETTINGS, INVOICES, PAYMENTS, BANK, JOURNALS,
                                         "accounting.attachments") for suffix in ("", ".read")),
    "accounting.journals.read", "accounting.reports.read", "accounting.budgets.read",
    *(f"accounting.reports.{report}.read" for report in _REPORTS),
})
# Broad scopes an app created on or after 2 March 2026 can no longer request (Granular Scopes FAQ).
RETIRED_FOR_NEW_APPS: frozenset[str] = frozenset({TRANSACTIONS, f"{TRANSACTIONS}.read", "accounting.reports.read"})


def resource_of(path: str) -> str:
    """``/api.xro/2.0/Invoices/{id}/History`` (or ``/Invoices/...``) -> ``Invoices``."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if parts[:2] == ["api.xro", "2.0"]:
        parts = parts[2:]
    return parts[0] if parts else ""


def allows(method: str, path: str, granted: Collection[str]) -> bool:
    """Whether a token carrying ``granted`` may make this call (False for a resource not in the table)."""
    families = FAMILIES.get(resource_of(path), ())
    reading = method.upper() in ("GET", "HEAD")
    return any(f in granted or (reading and f"{f}.read" in granted) for f in families)


def missing_for(path: str, granted: Collection[str]) -> str | None:
    """The scope a refused call to ``path`` lacked, to name in a reconnect message: the first family's
    ``.read`` when nothing of it reads, else the family itself (the call was a write); None if unknown."""
    families = FAMILIES.get(resource_of(path))
    if not families:
        return None
    if not any(f in granted or f"{f}.read" in granted for f in families):
        return f"{families[0]}.read"
    return families[0]
