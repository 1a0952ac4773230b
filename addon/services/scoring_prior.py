"""The pooled prior for cold-start tenants: generated histories over every behaviour mix.

Generated, not downloaded: the sandbox generator's customers pay reliably, slowly, seasonally,
worse over time or with disputes, so a new tenant's first scores lean on those patterns until its
own settled invoices are enough (see addon.domain.scoring.train.needs_prior).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from addon.domain.scoring.history import HistoryInvoice, last_date
from connectors.sandbox.generator import MIXES, SandboxCompany, generate_company

PRIOR_SEEDS = (101, 202)
PriorHistories = tuple[tuple[list[HistoryInvoice], date], ...]


def prior_factory(config: Mapping[str, Any]) -> Callable[[], PriorHistories]:
    """The pooled prior as the app is configured (SCORING_PRIOR_INVOICES, SCORING_PRIOR_SEEDS): big
    enough to carry a cold tenant, smaller in tests and small deployments. Built only when called."""
    invoices = int(config.get("SCORING_PRIOR_INVOICES", 1500))
    seeds = tuple(int(s) for s in str(config.get("SCORING_PRIOR_SEEDS", "101,202")).split(","))
    return lambda: prior_histories(invoices=invoices, customers=max(10, invoices // 30), seeds=seeds)


def generated_history(seed: int, mix: str, customers: int, invoices: int,
                      write_offs: bool = False) -> list[HistoryInvoice]:
    """History records from the seeded sandbox generator (voided invoices left out).

    The risk model's targets are measured without write-offs (the default); ``write_offs`` is for the
    forecast backtest, where an invoice credited in full as bad debt is one never paid (no paid date)."""
    return history_of(generate_company(seed, customers=customers, invoices=invoices, mix=mix,
                                       write_offs=write_offs))


def history_of(company: SandboxCompany) -> list[HistoryInvoice]:
    """A generated company's invoices as history records (voided ones left out; one written off as bad
    debt was never paid)."""
    out = []
    for inv in company.invoices:
        if inv.voided:
            continue
        paid_date = None if inv.written_off_on is not None else inv.paid_date
        final = 1 if paid_date else 0  # the settling payment is not a partial one
        out.append(HistoryInvoice(
            invoice_id=inv.id, customer_id=inv.customer_id, issue_date=inv.issue_date, due_date=inv.due_date,
            amount=inv.total, currency=inv.currency, paid_date=paid_date, disputed=inv.disputed,
            credited=inv.amount_credited, partial_payments=max(0, len(inv.payments) - final), sent=inv.sent,
            payments=tuple((p.date, p.amount) for p in inv.payments)))
    return out


def after_last_date(history: Sequence[HistoryInvoice]) -> date:
    return last_date(history) + timedelta(days=1)


@lru_cache(maxsize=4)
def prior_histories(invoices: int = 2000, customers: int = 60,
                    seeds: tuple[int, ...] = PRIOR_SEEDS) -> tuple[tuple[list[HistoryInvoice], date], ...]:
    """(history, as_of) pairs for every seed x behaviour mix (cached: generating them is not free)."""
    out = []
    for seed in seeds:
        for mix in MIXES:
            history = generated_history(seed, mix, customers, invoices)
            out.append((history, after_last_date(history)))
    return tuple(out)
