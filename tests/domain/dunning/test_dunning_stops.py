from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from addon.domain.dunning import stop_reason


@pytest.mark.parametrize(("overrides", "reason"), [
    ({}, None),
    ({"paid": True}, "paid"),
    ({"voided": True}, "voided"),
    ({"credited": True}, "credited"),
    ({"amount_due": Decimal("0")}, "nothing due"),
    ({"disputed": True}, "disputed"),
    ({"promise_to_pay_until": 0}, "promise to pay by 2026-11-18"),
    ({"promise_to_pay_until": 5}, "promise to pay by 2026-11-23"),
    ({"promise_to_pay_until": -1}, None),  # a broken promise resumes the chase
])
def test_stop_conditions(overrides, reason, make_invoice, today):
    if "promise_to_pay_until" in overrides:  # days from today
        overrides = {"promise_to_pay_until": today + timedelta(days=overrides["promise_to_pay_until"])}
    result = stop_reason(make_invoice(10, **overrides), today)
    if reason is None:
        assert result is None
    else:
        assert result is not None
        assert result.startswith(reason)
