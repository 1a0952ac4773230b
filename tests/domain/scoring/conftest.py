"""Builders and a tiny trained model shared by the scoring tests (small data, few trees, one thread)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from addon.domain.scoring.history import HistoryInvoice
from addon.domain.scoring.model import RiskModel
from addon.domain.scoring.train import TrainConfig, train_model
from addon.services.scoring_prior import generated_history

FAST = TrainConfig(classifier_rounds=30, quantile_rounds=30, nthread=1)
D0 = date(2025, 1, 1)


def inv(invoice_id: str, customer: str = "C1", issued: int = 0, terms: int = 30, paid: int | None = None,
        amount: str = "100.00", **kw: object) -> HistoryInvoice:
    """An invoice issued ``issued`` days after D0 and paid ``paid`` days after its due date."""
    issue = D0 + timedelta(days=issued)
    due = issue + timedelta(days=terms)
    paid_date = None if paid is None else due + timedelta(days=paid)
    return HistoryInvoice(invoice_id, customer, issue, due, Decimal(amount), "GBP", paid_date, **kw)  # type: ignore[arg-type]


@pytest.fixture(name="make_inv")
def fixture_make_inv():  # type: ignore[no-untyped-def]
    return inv


@pytest.fixture(scope="session")
def small_history() -> list[HistoryInvoice]:
    return generated_history(seed=5, mix="balanced", customers=15, invoices=400)


@pytest.fixture(scope="session")
def small_model(small_history: list[HistoryInvoice]) -> tuple[RiskModel, date]:
    as_of = date(2026, 9, 1)
    return train_model(small_history, as_of, FAST), as_of
