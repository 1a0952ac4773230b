"""Properties over random ledgers and irregular run times (missed runs, reruns, killed workers)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from addon.domain.dunning import (
    DunningCustomer,
    DunningInvoice,
    RiskBand,
    SentStage,
    default_policy,
    plan_reminders,
)

START = datetime(2026, 9, 1, 7, tzinfo=UTC)
ORDER = [s.key for s in default_policy().stages]

invoice_rows = st.lists(st.tuples(st.integers(-10, 60), st.integers(0, 2),
                                   st.sampled_from([None, RiskBand.LOW, RiskBand.HIGH])), min_size=1, max_size=6)
run_gaps = st.lists(st.integers(0, 12), min_size=1, max_size=12)  # 0 = a rerun the same day


@settings(max_examples=60, deadline=None)
@given(rows=invoice_rows, gaps=run_gaps, reliable=st.booleans(), crash_every=st.integers(0, 3))
def test_no_stage_fires_twice_and_stages_only_move_forward(rows, gaps, reliable, crash_every):
    policy = default_policy()
    customers = [DunningCustomer(f"C{i}", f"Cust {i}", ("ap@x.example",), reliable=reliable) for i in range(3)]
    invoices = [DunningInvoice(f"I{n}", f"INV-{n}", f"C{cust}", "GBP", Decimal("100"),
                               date(2026, 9, 1) + timedelta(days=due), date(2026, 8, 1), risk_band=band)
                for n, (due, cust, band) in enumerate(rows)]
    history: list[SentStage] = []
    sent_keys: list[str] = []
    now = START
    for run, gap in enumerate(gaps, start=1):
        now += timedelta(days=gap)
        actions = plan_reminders(invoices, customers, policy, history, now)
        assert len({a.customer_id for a in actions}) == len(actions)  # one reminder per customer per run
        if crash_every and run % crash_every == 0:
            continue  # the worker died before recording anything: the next run must plan it again
        for action in actions:
            for key in action.exactly_once_keys:
                invoice_id, stage = key.split(":")
                history.append(SentStage(invoice_id, stage))
                sent_keys.append(key)
    assert len(sent_keys) == len(set(sent_keys))
    by_invoice: dict[str, list[int]] = {}
    for key in sent_keys:
        invoice_id, stage = key.split(":")
        by_invoice.setdefault(invoice_id, []).append(ORDER.index(stage))
    assert all(seq == sorted(seq) for seq in by_invoice.values())
