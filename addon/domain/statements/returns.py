"""Which bank lines take back money that came in earlier (reversals and returns), across formats.

The parsers keep each format's own signal: camt ``RvslInd`` and MT940 ``RC``/``RD`` set
``BankLine.reversal``; a SEPA return's reason (camt ``RtrInf/Rsn``, MT940 ``/RTRN/``) is
``extra["return_reason"]``; BAI2 has no flag, only detail type codes, a few of which are returns.
"""

from __future__ import annotations

from addon.domain.types import BankLine

# BAI2 detail debit type codes that return or reverse a credit: 552 Credit Reversal, 555 Deposited Item
# Returned, 557 Individual ACH Return Item, 558 ACH Reversal Debit.
BAI2_RETURN_TYPE_CODES = frozenset({"552", "555", "557", "558"})


def return_reason(line: BankLine) -> str | None:
    """The bank's reason code for a returned payment, when the file gives one."""
    return line.extra.get("return_reason") or None


def is_reversal(line: BankLine) -> bool:
    """The booking reverses or returns an earlier one (either direction; the sign says which)."""
    return line.reversal or line.extra.get("type_code") in BAI2_RETURN_TYPE_CODES


def takes_money_back(line: BankLine) -> bool:
    """Money out that undoes money in: a reversed or returned incoming payment."""
    return line.amount < 0 and (is_reversal(line) or return_reason(line) is not None)
