"""Builders for dunning tests: one invoice/customer with sensible defaults, override what matters."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from addon.domain.dunning import DunningCustomer, DunningInvoice

TODAY = date(2026, 11, 18)  # a Wednesday


def invoice(days_overdue: int = 0, **overrides: Any) -> DunningInvoice:
    due = TODAY - timedelta(days=days_overdue)
    base = DunningInvoice(invoice_id="I1", number="INV-001", customer_id="C1", currency="GBP",
                          amount_due=Decimal("500.00"), due_date=due, issue_date=due - timedelta(days=30))
    return replace(base, **overrides)


def customer(**overrides: Any) -> DunningCustomer:
    base = DunningCustomer(customer_id="C1", name="Acme Trading Ltd", emails=("ap@acme.example",),
                           timezone="Europe/London")
    return replace(base, **overrides)


@pytest.fixture
def make_invoice():  # type: ignore[no-untyped-def]
    return invoice


@pytest.fixture
def make_customer():  # type: ignore[no-untyped-def]
    return customer


@pytest.fixture
def today() -> date:
    return TODAY
