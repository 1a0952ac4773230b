from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from addon.domain.statements.returns import is_reversal, return_reason, takes_money_back
from addon.domain.types import BankLine


def _line(amount: str, *, reversal: bool = False, **extra: str) -> BankLine:
    return BankLine(booking_date=date(2026, 11, 10), amount=Decimal(amount), currency="GBP", reversal=reversal,
                    extra=extra)


@pytest.mark.parametrize(("line", "taken_back"), [
    (_line("-100.00", reversal=True), True),  # camt RvslInd on a debit, MT940 RC
    (_line("100.00", reversal=True), False),  # MT940 RD: a reversed debit brings money in
    (_line("-100.00", return_reason="AC04"), True),  # SEPA return (camt RtrInf, MT940 /RTRN/)
    (_line("-100.00", type_code="555"), True),  # BAI2 Deposited Item Returned
    (_line("-100.00", type_code="475"), False),  # BAI2 check paid
    (_line("-100.00"), False),  # an ordinary payment out
])
def test_money_taken_back(line: BankLine, taken_back: bool) -> None:
    assert takes_money_back(line) is taken_back


def test_return_reason_and_bai2_reversal() -> None:
    assert return_reason(_line("-1.00", return_reason="MD06")) == "MD06"
    assert return_reason(_line("-1.00", return_reason="")) is None
    assert is_reversal(_line("-1.00", type_code="558"))
