"""Stop conditions: invoices that must never be chased, whatever stage they are at."""

from __future__ import annotations

from datetime import date

from addon.domain.dunning.model import DunningInvoice


def stop_reason(invoice: DunningInvoice, today: date) -> str | None:
    """Why this invoice is not chased today (paid, voided, credited, disputed, promised), or None."""
    if invoice.voided:
        return "voided"
    if invoice.paid:
        return "paid"
    if invoice.credited:
        return "credited"
    if invoice.amount_due <= 0:
        return "nothing due"
    if invoice.disputed:
        return "disputed"
    if invoice.promise_to_pay_until is not None and invoice.promise_to_pay_until >= today:
        return f"promise to pay by {invoice.promise_to_pay_until.isoformat()}"
    return None
