"""The dashboard reads only the invoices its figures can depend on (and their allocations), with the figures
of the full read (tests/addon/dashboard_reference.py): real database and Redis."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, select

from addon.domain.metrics import earliest_balance_read, earliest_day_read, moves_no_figure
from addon.domain.write_offs import provision_matrix
from addon.models import CreditAllocation, CreditNote, Customer, Invoice, Payment, PaymentAllocation, RiskScore
from addon.services import dashboard_reads
from addon.services.bad_debt import past_invoices
from addon.services.dashboard import _DASHBOARD_COLUMNS, _receivable, tenant_dashboard
from addon.services.dashboard_reads import figured
from tests.addon.dashboard_reference import full_read_dashboard, full_settlements

TODAY = date(2026, 6, 15)
CUTOFF = earliest_day_read(TODAY)  # TODAY - 90: the DSO period is (CUTOFF, TODAY]
CEI_START = earliest_balance_read(TODAY)  # TODAY - 30: CEI's opening balances
C = Decimal("0.01")


def _pay(db, tenant, inv: Invoice, when: date, amount: Decimal, *, deleted: bool = False) -> None:  # type: ignore[no-untyped-def]
    payment = Payment(tenant_id=tenant.id, remote_id=f"p{inv.remote_id}-{when}-{amount}-{deleted}", date=when,
                      amount=amount, currency=inv.currency, deleted=deleted)
    payment.allocations = [PaymentAllocation(tenant_id=tenant.id, invoice_id=inv.id, invoice_remote_id=inv.remote_id,
                                             amount=amount, currency=inv.currency)]
    db.add(payment)


def _credit(db, tenant, inv: Invoice, when: date, amount: Decimal, *, applied_on: date | None = None,  # type: ignore[no-untyped-def]
            voided: bool = False) -> None:
    note = CreditNote(tenant_id=tenant.id, remote_id=f"cn{inv.remote_id}-{when}-{amount}-{voided}", date=when,
                      currency=inv.currency, total=amount, remaining=Decimal("0"), voided=voided)
    note.allocations = [CreditAllocation(tenant_id=tenant.id, invoice_id=inv.id, invoice_remote_id=inv.remote_id,
                                         amount=amount, currency=inv.currency, applied_on=applied_on)]
    db.add(note)


def _generate(db, tenant, rng: random.Random, n: int = 240) -> None:  # type: ignore[no-untyped-def]
    """A ledger over ~500 days: open, part-paid, paid and credited invoices, payment and credit rows missing
    from the mirror, deleted payments and voided notes (not settlements), QBO-style credits applied after the
    note's date, fully_paid_on that disagrees with the rows (or is after today, or missing), voided
    invoices, and four currencies of distinct counts, one of them (CHF) settled long ago only."""
    buyer = Customer(tenant_id=tenant.id, remote_id=f"c{tenant.id}", name="Buyer")
    db.add(buyer)
    db.flush()
    currencies = ["GBP"] * 5 + ["EUR"] * 3 + ["USD"] * 2
    for i in range(n + 3):
        currency = currencies[i % len(currencies)] if i < n else "CHF"
        issued = TODAY - timedelta(days=rng.randint(0, 500) if i < n else rng.randint(200, 400))
        due = issued + timedelta(days=rng.choice((0, 14, 30, 60)))
        total = Decimal(rng.randint(100, 500_000)) * C
        inv = Invoice(tenant_id=tenant.id, remote_id=f"g{i}", number=f"G-{i}", customer_id=buyer.id,
                      currency=currency, issue_date=issued, due_date=due, total=total, amount_due=total,
                      status="open")
        db.add(inv)
        db.flush()
        fate = "paid" if i >= n else rng.choices(("open", "part", "paid", "credited", "voided"), (2, 2, 6, 1, 0.5))[0]
        if fate == "voided":
            inv.status, inv.amount_due = "voided", Decimal("0")
            continue
        left, last, credited = total, issued, Decimal("0")
        parts = {"open": 0, "part": rng.randint(1, 2), "paid": rng.randint(1, 3), "credited": 1}[fate]
        for k in range(parts):
            final = k == parts - 1 and fate in ("paid", "credited")
            amount = left if final else (left * Decimal(rng.randint(10, 60)) / 100).quantize(C)
            when = last + timedelta(days=rng.randint(0, 120))
            if i >= n:
                when = min(when, TODAY - timedelta(days=150))
            last, left = when, left - amount
            is_credit = fate == "credited" or rng.random() < 0.15
            credited += amount if is_credit else Decimal("0")
            if rng.random() < 0.2:  # older than the mirror's first sync: no row
                continue
            if is_credit:
                applied = when if rng.random() < 0.5 else None
                _credit(db, tenant, inv, when - timedelta(days=rng.randint(0, 60)) if applied else when, amount,
                        applied_on=applied)
            else:
                _pay(db, tenant, inv, when, amount)
        if rng.random() < 0.1:  # not settlements: read by neither path
            _pay(db, tenant, inv, TODAY - timedelta(days=rng.randint(0, 30)), total, deleted=True)
        if rng.random() < 0.05:
            _credit(db, tenant, inv, TODAY - timedelta(days=rng.randint(0, 30)), total, voided=True)
        inv.amount_due, inv.amount_credited = left, credited
        inv.amount_paid = total - left - credited
        if left == 0:
            inv.status = "paid" if rng.random() < 0.95 else "open"  # the mirror's status can lag
            inv.fully_paid_on = rng.choices((last, None, last - timedelta(days=40), TODAY + timedelta(days=2)),
                                            (8, 1, 1, 1))[0]
    # A payment row the mirror could not tie to an invoice.
    orphan = Payment(tenant_id=tenant.id, remote_id=f"orphan{tenant.id}", date=TODAY - timedelta(days=3),
                     amount=Decimal("5.00"), currency="GBP")
    orphan.allocations = [PaymentAllocation(tenant_id=tenant.id, invoice_id=None, invoice_remote_id="gone",
                                            amount=Decimal("5.00"), currency="GBP")]
    db.add(orphan)
    db.flush()
    # Scores of open invoices, and of paid ones (scores stay when an invoice is paid).
    for inv_id in db.scalars(select(Invoice.id).where(Invoice.tenant_id == tenant.id).limit(60)):
        db.add(RiskScore(tenant_id=tenant.id, invoice_id=inv_id, model_version="t", p_late=Decimal("0.5"),
                         band="medium", p10_days=rng.randint(-5, 5), p50_days=rng.randint(5, 30),
                         p90_days=rng.randint(30, 90), reasons=[]))


def _matrix(db, tenant, today: date):  # type: ignore[no-untyped-def]
    return provision_matrix(past_invoices(db, tenant.id, *full_settlements(db, tenant.id)), today)


def _compare(db, tenant, today: date, redis_conn) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The dashboard on ``today`` measured afresh and from the cached matrix (the path that reads only the
    figures' allocations), each equal to the full read, currencies in the same order; returns it."""
    reference = full_read_dashboard(db, tenant, today, _matrix(db, tenant, today))
    fresh = tenant_dashboard(db, tenant, today, redis=redis_conn)  # measures the matrix and stores it
    cached = tenant_dashboard(db, tenant, today, redis=redis_conn)
    assert fresh == reference
    assert cached == reference
    assert list(cached["currencies"]) == list(reference["currencies"])
    return reference


@pytest.mark.parametrize(("seed", "chunk"), [(1, 500), (2, 7), (3, 1)])
def test_the_dashboard_equals_the_full_read_on_generated_ledgers(db, make_tenant, redis_conn, monkeypatch,
                                                                  seed: int, chunk: int) -> None:
    monkeypatch.setattr(dashboard_reads, "_ID_CHUNK", chunk)  # allocations read in many batches (not on PostgreSQL)
    tenant = make_tenant(name=f"Generated {seed}")
    _generate(db, tenant, random.Random(seed))
    # An allocation recorded under another tenant for one of this tenant's invoices: neither read counts it.
    other = make_tenant(name=f"Other {seed}")
    target = db.scalars(select(Invoice).where(Invoice.tenant_id == tenant.id, Invoice.status == "open")).first()
    stray = Payment(tenant_id=other.id, remote_id="stray", date=TODAY - timedelta(days=2), amount=target.total,
                    currency=target.currency)
    stray.allocations = [PaymentAllocation(tenant_id=other.id, invoice_id=target.id, invoice_remote_id="x",
                                           amount=target.total, currency=target.currency)]
    db.add(stray)
    db.commit()
    # Also a day before some of the ledger's rows: settlements after "today" must weigh as before.
    for today in (TODAY, TODAY - timedelta(days=45), TODAY + timedelta(days=31)):
        figures = _compare(db, tenant, today, redis_conn)
        assert list(figures["currencies"]) == ["GBP", "EUR", "USD", "CHF"]


@pytest.mark.parametrize("seed", [1, 2])
def test_an_invoice_left_out_moves_no_figure(db, make_tenant, seed: int) -> None:
    """What ``figured`` leaves out is, as ``_receivable`` builds it from every row, one that cannot move
    aging, DSO or CEI (metrics.moves_no_figure, proof there) with nothing due; and the generated ledger's
    old settled invoices are left out (the filter is not vacuous)."""
    tenant = make_tenant(name=f"Left out {seed}")
    _generate(db, tenant, random.Random(seed))
    db.commit()
    selected = set(db.scalars(select(Invoice.id).where(figured(tenant.id, TODAY))))
    rows = db.execute(select(*_DASHBOARD_COLUMNS).where(Invoice.tenant_id == tenant.id,
                                                        Invoice.status.in_(["open", "paid"]))).all()
    paid, credited = full_settlements(db, tenant.id)
    left_out = [r for r in rows if r.id not in selected]
    assert len(left_out) > len(rows) // 4
    for r in left_out:
        assert r.amount_due <= 0
        assert moves_no_figure(_receivable(r, paid.get(r.id, []), credited.get(r.id, []), TODAY), TODAY), r.id


def _old(db, tenant, n: str, *, total: str = "400.00", due: str = "0.00", status: str = "paid",  # type: ignore[no-untyped-def]
         issued: date = CUTOFF - timedelta(days=100), due_on: date | None = None,
         fully_paid_on: date | None = CUTOFF - timedelta(days=60)) -> Invoice:
    inv = Invoice(tenant_id=tenant.id, remote_id=n, number=n, currency="GBP", issue_date=issued,
                  due_date=due_on or issued + timedelta(days=30), total=Decimal(total), amount_due=Decimal(due),
                  amount_paid=Decimal(total) - Decimal(due), status=status, fully_paid_on=fully_paid_on)
    db.add(inv)
    db.flush()
    return inv


def _issued_on_the_first_day_of_the_dso_period(db, tenant) -> Invoice:  # type: ignore[no-untyped-def]
    first = CUTOFF + timedelta(days=1)
    inv = _old(db, tenant, "FIRST-DAY", issued=first, fully_paid_on=first)
    _pay(db, tenant, inv, first, inv.total)
    return inv


def _prepaid_and_issued_on_the_first_day_of_the_dso_period(db, tenant) -> Invoice:  # type: ignore[no-untyped-def]
    # A deposit taken before the invoice was issued: only the issue date is in the period.
    first, paid = CUTOFF + timedelta(days=1), CUTOFF - timedelta(days=10)
    inv = _old(db, tenant, "PREPAID", issued=first, due_on=first, fully_paid_on=paid)
    _pay(db, tenant, inv, paid, inv.total)
    return inv


def _credited_on_the_first_day_of_the_dso_period(db, tenant) -> Invoice:  # type: ignore[no-untyped-def]
    inv = _old(db, tenant, "CREDIT-FIRST-DAY")  # fully paid long ago per the mirror; Xero: the note's date
    _pay(db, tenant, inv, CUTOFF - timedelta(days=60), Decimal("300.00"))
    _credit(db, tenant, inv, CUTOFF + timedelta(days=1), Decimal("100.00"))
    return inv


def _credit_applied_in_the_period_from_an_old_note(db, tenant) -> Invoice:  # type: ignore[no-untyped-def]
    inv = _old(db, tenant, "QBO-APPLIED")  # QBO: the applying payment's date, not the note's, dates it
    _pay(db, tenant, inv, CUTOFF - timedelta(days=60), Decimal("300.00"))
    _credit(db, tenant, inv, CUTOFF - timedelta(days=80), Decimal("100.00"), applied_on=CUTOFF + timedelta(days=1))
    return inv


def _payment_row_after_its_fully_paid_on(db, tenant) -> Invoice:  # type: ignore[no-untyped-def]
    inv = _old(db, tenant, "ROW-LATER")  # fully_paid_on says long ago; the row, the day after CEI's start
    _pay(db, tenant, inv, CEI_START + timedelta(days=1), inv.total)
    return inv


def _paid_after_today_but_open_in_the_mirror(db, tenant) -> Invoice:  # type: ignore[no-untyped-def]
    # No rows: the settlement filled in is dated min(fully_paid_on, today) = today, so it was due at CEI's start.
    return _old(db, tenant, "LAGGING", status="open", fully_paid_on=TODAY + timedelta(days=2))


def _paid_without_rows_or_date_due_in_the_cei_period(db, tenant) -> Invoice:  # type: ignore[no-untyped-def]
    # No rows, no fully_paid_on: the settlement filled in is dated on the due date, 20 days ago.
    return _old(db, tenant, "NO-DATE", fully_paid_on=None, due_on=TODAY - timedelta(days=20))


def _part_paid_long_ago_still_due(db, tenant) -> Invoice:  # type: ignore[no-untyped-def]
    inv = _old(db, tenant, "STILL-DUE", due="150.00", status="open", fully_paid_on=None)
    _pay(db, tenant, inv, CUTOFF - timedelta(days=60), Decimal("250.00"))
    return inv


def _paid_the_day_after_cei_starts(db, tenant) -> Invoice:  # type: ignore[no-untyped-def]
    # No rows: filled in on fully_paid_on, the day after CEI's start, so it was due at that start.
    return _old(db, tenant, "CEI-SECOND-DAY", fully_paid_on=CEI_START + timedelta(days=1))


def _credit_without_rows_in_the_dso_period(db, tenant) -> Invoice:  # type: ignore[no-untyped-def]
    # Paid before CEI's start, but the platform says 100 of it was a credit note the mirror has no row of:
    # filled in as a credit dated fully_paid_on, in DSO's period, it lowers net credit sales.
    inv = _old(db, tenant, "CREDIT-NO-ROW", fully_paid_on=CEI_START - timedelta(days=20))
    inv.amount_credited = Decimal("100.00")
    _pay(db, tenant, inv, CUTOFF - timedelta(days=30), Decimal("300.00"))
    return inv


def _negative_credit_row_leaves_a_credit_to_fill_in(db, tenant) -> Invoice:  # type: ignore[no-untyped-def]
    # amount_credited 0, but credit rows of +100 and -150 (an unapplied credit recorded as a negative row):
    # 50 of what the mirror lacks is filled in as a credit, dated fully_paid_on, in DSO's period.
    inv = _old(db, tenant, "NEGATIVE-CREDIT", fully_paid_on=CEI_START - timedelta(days=20))
    _credit(db, tenant, inv, CUTOFF - timedelta(days=50), Decimal("100.00"))
    _credit(db, tenant, inv, CUTOFF - timedelta(days=40), Decimal("-150.00"))
    _pay(db, tenant, inv, CUTOFF - timedelta(days=30), Decimal("300.00"))
    return inv


def _credited_in_full_after_the_cutoff(db, tenant) -> Invoice:  # type: ignore[no-untyped-def]
    inv = _old(db, tenant, "CREDITED", fully_paid_on=CUTOFF - timedelta(days=60))
    _credit(db, tenant, inv, TODAY - timedelta(days=5), inv.total)
    return inv


@pytest.mark.parametrize("build", [
    _issued_on_the_first_day_of_the_dso_period, _prepaid_and_issued_on_the_first_day_of_the_dso_period,
    _credited_on_the_first_day_of_the_dso_period,
    _credit_applied_in_the_period_from_an_old_note, _payment_row_after_its_fully_paid_on,
    _paid_after_today_but_open_in_the_mirror, _paid_without_rows_or_date_due_in_the_cei_period,
    _part_paid_long_ago_still_due, _credited_in_full_after_the_cutoff, _paid_the_day_after_cei_starts,
    _credit_without_rows_in_the_dso_period, _negative_credit_row_leaves_a_credit_to_fill_in,
])
def test_an_invoice_that_moves_a_figure_is_read(db, make_tenant, redis_conn,
                                                build: Callable[..., Invoice]) -> None:
    tenant = make_tenant(name="Edge Ltd")
    # A background that gives DSO and CEI values: one invoice issued in the period, one old overdue.
    _old(db, tenant, "RECENT", issued=TODAY - timedelta(days=40), due="900.00", total="900.00", status="open",
         fully_paid_on=None)
    _old(db, tenant, "OVERDUE", due="500.00", total="500.00", status="open", fully_paid_on=None)
    inv = build(db, tenant)
    db.commit()
    assert inv.id in set(db.scalars(select(Invoice.id).where(figured(tenant.id, TODAY))))
    with_it = _compare(db, tenant, TODAY, redis_conn)
    # ... and it matters: without it, the full read's figures differ.
    db.execute(delete(PaymentAllocation).where(PaymentAllocation.invoice_id == inv.id))
    db.execute(delete(CreditAllocation).where(CreditAllocation.invoice_id == inv.id))
    db.execute(delete(Invoice).where(Invoice.id == inv.id))
    db.commit()
    without = full_read_dashboard(db, tenant, TODAY, _matrix(db, tenant, TODAY))
    assert without["currencies"]["GBP"] != with_it["currencies"]["GBP"]


def test_an_invoice_settled_on_the_cutoffs_is_left_out_and_moves_nothing(db, make_tenant, redis_conn) -> None:
    tenant = make_tenant(name="Cutoff Ltd")
    _old(db, tenant, "RECENT", issued=TODAY - timedelta(days=40), due="900.00", total="900.00", status="open",
         fully_paid_on=None)
    # (fully_paid_on on the sales cutoff: with a credit, a later one would be kept, the filled-in part possibly
    # being a credit in DSO's period)
    inv = _old(db, tenant, "ON-CUTOFF", issued=CUTOFF, fully_paid_on=CUTOFF)
    inv.amount_credited = Decimal("100.00")
    _pay(db, tenant, inv, CEI_START, Decimal("300.00"))  # paid as CEI's period starts: its opening AR is 0
    _credit(db, tenant, inv, CUTOFF - timedelta(days=5), Decimal("100.00"), applied_on=CUTOFF)
    _pay(db, tenant, inv, TODAY, inv.total, deleted=True)  # a deleted payment is no settlement
    _credit(db, tenant, inv, TODAY, inv.total, voided=True)  # nor is a voided note
    missing = _old(db, tenant, "NO-ROWS", fully_paid_on=CEI_START)  # filled in on CEI's start, as a payment
    db.commit()
    selected = set(db.scalars(select(Invoice.id).where(figured(tenant.id, TODAY))))
    assert inv.id not in selected
    assert missing.id not in selected
    _compare(db, tenant, TODAY, redis_conn)


def test_a_currency_whose_invoices_were_all_settled_long_ago_is_still_shown(db, make_tenant, redis_conn) -> None:
    tenant = make_tenant(name="Old Francs Ltd")
    _old(db, tenant, "GBP-NOW", issued=TODAY - timedelta(days=10), due="100.00", total="100.00", status="open",
         fully_paid_on=None)
    for n in range(2):
        old = _old(db, tenant, f"CHF-{n}")
        old.currency = "CHF"
    db.commit()
    figures = _compare(db, tenant, TODAY, redis_conn)
    assert list(figures["currencies"]) == ["CHF", "GBP"]  # most invoices first, as before
    assert figures["currencies"]["CHF"]["open_invoices"] == 0
    assert figures["currencies"]["CHF"]["dso_days"] is None
