"""Turn a match verdict into what the connectors post: a payment and, for deductions, a credit note."""

from __future__ import annotations

from decimal import Decimal

from addon.domain.types import Allocation, BankLine, NewCreditNote, NewPayment

from .model import Candidate, Residual


def proposed_payment(candidate: Candidate, line: BankLine, *, account_code: str | None = None) -> NewPayment:
    """The payment for an accepted candidate, dated on the bank booking date.

    Fee and FX residuals still close the invoices in full (the difference is booked to the bank-fee or
    FX account by the poster); an overpayment leaves ``candidate.residual_amount`` unapplied.
    """
    if candidate.customer_id is None:
        raise ValueError("candidate has no customer to post a payment for")
    reference = line.structured_reference or line.end_to_end_id or line.bank_reference
    return NewPayment(contact_id=candidate.customer_id, date=line.booking_date, currency=line.currency,
                      allocations=candidate.allocations, reference=reference, account_code=account_code)


def proposed_credit_note(candidate: Candidate, line: BankLine,
                         amounts_due: dict[str, Decimal]) -> NewCreditNote | None:
    """The credit note that settles a deduction, allocated to the short-paid invoices; None otherwise.

    ``amounts_due`` maps each of ``candidate.invoices`` to its amount due before this payment (re-read
    from the ERP, the system of record).
    """
    if candidate.residual is not Residual.DEDUCTION or candidate.customer_id is None:
        return None
    paid = {a.invoice_id: a.amount for a in candidate.allocations}
    left, allocations = candidate.residual_amount, []
    for invoice_id in candidate.invoices or tuple(paid):
        gap = min(amounts_due[invoice_id] - paid.get(invoice_id, Decimal("0")), left)
        if gap > 0:
            allocations.append(Allocation(invoice_id, gap))
            left -= gap
    return NewCreditNote(contact_id=candidate.customer_id, date=line.booking_date, currency=line.currency,
                         amount=candidate.residual_amount,
                         reason=f"Deduction ({candidate.deduction_reason or 'other'}) on bank payment",
                         allocations=tuple(allocations))
