"""A receivable settled by ``earliest_day_read(as_of)`` moves neither aging, DSO nor CEI at ``as_of`` (hypothesis),
and one a day later can: the dashboard leaves the former out of what it reads (addon/services/dashboard.py)."""

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
    earliest_day_read,
    settled_by,
)

AS_OF = date(2026, 6, 15)
CUTOFF = earliest_day_read(AS_OF)
D = Decimal

days = st.integers(min_value=-400, max_value=60).map(lambda n: AS_OF + timedelta(days=n))
amounts = st.integers(min_value=-50_000, max_value=500_000).map(lambda n: D(n) / 100)
dated = st.lists(st.tuples(days, amounts), max_size=4).map(tuple)


@st.composite
def receivables(draw: st.DrawFn) -> Receivable:
    issued = draw(days)
    return Receivable(f"r{draw(st.integers(0, 10**6))}", issued, issued + timedelta(days=draw(st.integers(0, 90))),
                      draw(amounts), draw(dated), draw(dated))


@st.composite
def settled_by_cutoff(draw: st.DrawFn) -> Receivable:
    """Issued, paid and credited on or before the cutoff, in any order, amounts of either sign, covering the total."""
    old = st.integers(min_value=0, max_value=400).map(lambda n: CUTOFF - timedelta(days=n))
    issued = draw(old)
    paid = draw(st.lists(st.tuples(old, amounts), max_size=3))
    credited = draw(st.lists(st.tuples(old, amounts), max_size=3))
    total = draw(amounts)
    cover = total - sum((a for _, a in (*paid, *credited)), D("0"))
    if cover > 0:
        paid.append((draw(old), cover + draw(st.integers(0, 1000)) / D(100)))
    due = issued + timedelta(days=draw(st.integers(0, 90)))
    r = Receivable("old", issued, due, total, tuple(paid), tuple(credited))
    assert settled_by(r, CUTOFF)
    return r


def _figures(rs: list[Receivable]) -> tuple[object, ...]:
    return aging(rs, AS_OF), dso(rs, AS_OF), cei(rs, AS_OF)


def test_the_cutoff_is_the_start_of_the_longest_period() -> None:
    assert CUTOFF == AS_OF - timedelta(days=max(DSO_PERIOD_DAYS, CEI_PERIOD_DAYS)) == AS_OF - timedelta(days=90)


@settings(max_examples=300, deadline=None)
@given(others=st.lists(receivables(), max_size=6), old=st.lists(settled_by_cutoff(), min_size=1, max_size=4))
def test_a_receivable_settled_by_the_cutoff_moves_no_figure(others: list[Receivable], old: list[Receivable]) -> None:
    assert _figures(others + old) == _figures(others)
    assert _figures(old + others) == _figures(others)


def _one(issued: date, *settled: tuple[date, str], credits: tuple[tuple[date, str], ...] = ()) -> Receivable:
    return Receivable("x", issued, issued + timedelta(days=30), D("400"), tuple((d, D(a)) for d, a in settled),
                      tuple((d, D(a)) for d, a in credits))


def test_a_day_later_it_can() -> None:
    background = [Receivable("open", AS_OF - timedelta(days=40), AS_OF - timedelta(days=10), D("900"))]
    first = CUTOFF + timedelta(days=1)
    old = CUTOFF - timedelta(days=100)
    for moving in (_one(first, (first, "400")),                               # issued on DSO's first day
                   _one(old, (old, "300"), credits=((first, "100"),)),        # credited on it
                   _one(old, (AS_OF - timedelta(days=29), "400"))):            # still due at CEI's start
        assert not settled_by(moving, CUTOFF)
        assert _figures([*background, moving]) != _figures(background)
    on_cutoff = _one(CUTOFF, (CUTOFF, "300"), credits=((CUTOFF, "100"),))
    assert settled_by(on_cutoff, CUTOFF)
    assert not settled_by(_one(old, (old, "399.99")), CUTOFF)  # not covered: it is still due
