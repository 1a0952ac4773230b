"""A receivable ``moves_no_figure`` holds for adds nothing to aging, DSO or CEI (hypothesis), and one issued,
credited or paid a day later can: the dashboard leaves the former out of what it reads
(addon/services/dashboard.py)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from addon.domain.metrics import (
    CEI_PERIOD_DAYS,
    DSO_PERIOD_DAYS,
    Receivable,
    aging,
    cei,
    dso,
    earliest_balance_read,
    earliest_day_read,
    moves_no_figure,
)

AS_OF = date(2026, 6, 15)
SALES_FROM = earliest_day_read(AS_OF)
BALANCES_FROM = earliest_balance_read(AS_OF)
D = Decimal

days = st.integers(min_value=-400, max_value=60).map(lambda n: AS_OF + timedelta(days=n))
amounts = st.integers(min_value=-50_000, max_value=500_000).map(lambda n: D(n) / 100)
dated = st.lists(st.tuples(days, amounts), max_size=4).map(tuple)


def on_or_before(day: date) -> st.SearchStrategy[date]:
    return st.integers(min_value=0, max_value=400).map(lambda n: day - timedelta(days=n))


@st.composite
def receivables(draw: st.DrawFn) -> Receivable:
    issued = draw(days)
    return Receivable(f"r{draw(st.integers(0, 10**6))}", issued, issued + timedelta(days=draw(st.integers(0, 90))),
                      draw(amounts), draw(dated), draw(dated))


@st.composite
def moving_nothing(draw: st.DrawFn) -> Receivable:
    """Issued and credited by SALES_FROM, paid by BALANCES_FROM, in any order, amounts of either sign,
    covering the total."""
    issued = draw(on_or_before(SALES_FROM))
    paid = draw(st.lists(st.tuples(on_or_before(BALANCES_FROM), amounts), max_size=3))
    credited = draw(st.lists(st.tuples(on_or_before(SALES_FROM), amounts), max_size=3))
    total = draw(amounts)
    cover = total - sum((a for _, a in (*paid, *credited)), D("0"))
    if cover > 0:
        paid.append((draw(on_or_before(BALANCES_FROM)), cover + draw(st.integers(0, 1000)) / D(100)))
    due = issued + timedelta(days=draw(st.integers(0, 90)))
    r = Receivable("old", issued, due, total, tuple(paid), tuple(credited))
    assert moves_no_figure(r, AS_OF)
    return r


def _figures(rs: list[Receivable]) -> tuple[object, ...]:
    return aging(rs, AS_OF), dso(rs, AS_OF), cei(rs, AS_OF)


def test_the_cutoffs_are_the_periods_starts() -> None:
    assert SALES_FROM == AS_OF - timedelta(days=max(DSO_PERIOD_DAYS, CEI_PERIOD_DAYS)) == AS_OF - timedelta(days=90)
    assert BALANCES_FROM == AS_OF - timedelta(days=CEI_PERIOD_DAYS) == AS_OF - timedelta(days=30)


@settings(max_examples=300, deadline=None)
@given(others=st.lists(receivables(), max_size=6), old=st.lists(moving_nothing(), min_size=1, max_size=4))
def test_a_receivable_that_moves_no_figure_moves_none(others: list[Receivable], old: list[Receivable]) -> None:
    assert _figures(others + old) == _figures(others)
    assert _figures(old + others) == _figures(others)


def _one(issued: date, *settled: tuple[date, str], credits: tuple[tuple[date, str], ...] = ()) -> Receivable:
    return Receivable("x", issued, issued + timedelta(days=30), D("400"), tuple((d, D(a)) for d, a in settled),
                      tuple((d, D(a)) for d, a in credits))


def test_a_day_later_it_can() -> None:
    background = [Receivable("open", AS_OF - timedelta(days=40), AS_OF - timedelta(days=10), D("900"))]
    first = SALES_FROM + timedelta(days=1)
    old = SALES_FROM - timedelta(days=100)
    for moving in (_one(first, (first, "400")),                                        # issued on DSO's first day
                   _one(old, (old, "300"), credits=((first, "100"),)),                 # credited on it
                   _one(old, (BALANCES_FROM + timedelta(days=1), "400"))):             # still due as CEI starts
        assert not moves_no_figure(moving, AS_OF)
        assert _figures([*background, moving]) != _figures(background)
    on_the_days = _one(SALES_FROM, (BALANCES_FROM, "300"), credits=((SALES_FROM, "100"),))
    assert moves_no_figure(on_the_days, AS_OF)
    assert _figures([*background, on_the_days]) == _figures(background)
    assert not moves_no_figure(_one(old, (old, "399.99")), AS_OF)  # not covered: it is still due
