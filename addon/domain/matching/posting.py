"""Turn a match verdict into what the connectors post: a payment (with any overpaid remainder left as
unapplied credit), a credit note for an accepted deduction, and a bank transaction for a bank fee or an
FX difference, so the bank account moves by exactly the statement line's amount."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from addon.domain.types import (
    Allocation,
    BankLine,
    BankTransactionKind,
    NewBankTransaction,
    NewCreditNote,
    NewPayment,
)

from .model import Candidate, Residual

ZERO = Decimal("0")


@dataclass(frozen=True, slots=True)
class AdjustmentAccounts:
    """Where the differences a payment leaves are booked (Xero account codes / QBO account ids)."""

    fee: str  # bank charges deducted from a payment (an expense)
    fx: str  # exchange gains and losses


def _reference(line: BankLine) -> str | None:
    return line.structured_reference or line.end_to_end_id or line.bank_reference


def _customer(candidate: Candidate) -> str:
    if candidate.customer_id is None:
        raise ValueError("candidate has no customer to post a payment for")
    return candidate.customer_id


def _applied(candidate: Candidate) -> Decimal:
    return sum((a.amount for a in candidate.allocations), ZERO)


def proposed_payment(candidate: Candidate, line: BankLine, *, account_code: str | None = None) -> NewPayment:
    """The payment for an accepted candidate, dated on the bank booking date.

    Fee and FX residuals still close the invoices in full (``proposed_adjustment`` books the
    difference); an overpayment pays the invoices in full and leaves the rest of the line unapplied.
    """
    unapplied = ZERO
    if candidate.residual is Residual.OVERPAYMENT:
        # The line, not the stored residual, decides: the money received is exactly what arrived.
        unapplied = max(line.amount - _applied(candidate), ZERO)
    return NewPayment(contact_id=_customer(candidate), date=line.booking_date, currency=line.currency,
                      allocations=candidate.allocations, reference=_reference(line), account_code=account_code,
                      unapplied=unapplied)


def proposed_adjustment(candidate: Candidate, line: BankLine, accounts: AdjustmentAccounts, *,
                        bank_account_code: str | None = None) -> NewBankTransaction | None:
    """The bank transaction that books a fee or FX residual; None for every other outcome.

    The payment covers the invoices in full, so the bank account received ``applied``; the line says
    it received ``line.amount``. The difference goes out (spend: a fee or FX loss) or comes in
    (receive: an FX gain) against the fee or FX account.
    """
    if candidate.residual not in (Residual.FEE, Residual.FX):
        return None
    difference = line.amount - _applied(candidate)
    if difference == 0:
        return None
    kind = BankTransactionKind.RECEIVE if difference > 0 else BankTransactionKind.SPEND
    if candidate.residual is Residual.FEE:
        account, what = accounts.fee, "Bank charges"
    else:
        account, what = accounts.fx, "FX gain" if difference > 0 else "FX loss"
    reference = _reference(line)
    description = f"{what} on customer payment" + (f" {reference}" if reference else "")
    return NewBankTransaction(kind=kind, contact_id=_customer(candidate), date=line.booking_date,
                              currency=line.currency, amount=abs(difference), account_code=account,
                              description=description, reference=reference, bank_account_code=bank_account_code)


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
        gap = min(amounts_due[invoice_id] - paid.get(invoice_id, ZERO), left)
        if gap > 0:
            allocations.append(Allocation(invoice_id, gap))
            left -= gap
    return NewCreditNote(contact_id=candidate.customer_id, date=line.booking_date, currency=line.currency,
                         amount=candidate.residual_amount,
                         reason=f"Deduction ({candidate.deduction_reason or 'other'}) on bank payment",
                         allocations=tuple(allocations))
