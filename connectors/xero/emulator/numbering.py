"""Document numbers: the automatic INV-/CN- sequences, and the uniqueness rule for invoice numbers."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from connectors.xero.emulator.records import CreditNoteRecord, InvoiceRecord


def invoice_number_taken(invoices: Mapping[str, InvoiceRecord], number: str) -> bool:
    """Is ``number`` in use? Xero keeps sales invoice numbers unique (case aside); a deleted invoice gives
    its number up."""
    wanted = number.lower()
    return any(i.number.lower() == wanted and i.status != "DELETED" for i in invoices.values())


def next_invoice_number(invoices: Mapping[str, InvoiceRecord], reserved: Collection[str] = ()) -> str:
    """The next automatic invoice number, skipping numbers already chosen by hand and the (lower-cased)
    ``reserved`` ones that earlier elements of the same batch will take."""
    n = len(invoices) + 1
    while invoice_number_taken(invoices, f"INV-{n:06d}") or f"inv-{n:06d}" in reserved:
        n += 1
    return f"INV-{n:06d}"


def next_credit_number(credit_notes: Mapping[str, CreditNoteRecord]) -> str:
    """The next free CN- number (seeded notes are numbered after their invoice, so count upwards until one
    is free)."""
    taken = {n.number for n in credit_notes.values()}
    n = len(taken) + 1
    while f"CN-{n:06d}" in taken:
        n += 1
    return f"CN-{n:06d}"
