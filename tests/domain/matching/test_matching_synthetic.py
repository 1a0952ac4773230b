"""The synthetic ledger has known truth and the engine meets the issue's targets on it (small size)."""

from __future__ import annotations

from collections import Counter

import pytest

from addon.domain.matching import Decision, MatchingIndex, match_line
from addon.domain.matching.baseline import match_exact_reference
from addon.domain.matching.metrics import score_run
from addon.domain.matching.synthetic import LINE_MIX, generate_case


@pytest.fixture(scope="module")
def run():  # type: ignore[no-untyped-def]
    case = generate_case(11, invoices=6000, lines=1200)
    index = MatchingIndex.build(case.invoices)
    results = {line_id: match_line(line, index) for line_id, line in case.lines}
    baseline = {line_id: match_exact_reference(line, index) for line_id, line in case.lines}
    return case, results, baseline


def test_generation_is_deterministic_and_covers_every_case() -> None:
    a, b = generate_case(5, invoices=800, lines=300), generate_case(5, invoices=800, lines=300)
    assert a.lines == b.lines
    assert a.invoices == b.invoices
    assert generate_case(6, invoices=800, lines=300).lines != a.lines
    kinds = Counter(t.kind for t in generate_case(5, invoices=3000, lines=800).truths.values())
    assert set(kinds) == set(LINE_MIX)


def test_truth_allocations_reference_real_invoices(run) -> None:  # type: ignore[no-untyped-def]
    case, _, _ = run
    ids = {inv.invoice_id: inv for inv in case.invoices}
    for truth in case.truths.values():
        for alloc in truth.allocations:
            assert 0 < alloc.amount <= ids[alloc.invoice_id].amount_due


def test_engine_meets_targets(run) -> None:  # type: ignore[no-untyped-def]
    case, results, _ = run
    card = score_run(results, case.truths)
    assert card.auto_post_precision is not None
    assert card.auto_post_precision >= 0.995
    assert card.auto_match_rate is not None
    assert card.auto_match_rate >= 0.85
    assert card.top3 is not None
    assert card.top3 >= 0.95
    assert card.false_posts_on_ambiguous == 0


def test_engine_beats_the_exact_reference_baseline(run) -> None:  # type: ignore[no-untyped-def]
    case, results, baseline = run
    engine, naive = score_run(results, case.truths), score_run(baseline, case.truths)
    assert naive.auto_match_rate is not None
    assert engine.auto_match_rate is not None
    assert engine.auto_match_rate > naive.auto_match_rate + 0.2
    assert naive.auto_post_precision is not None
    assert naive.auto_post_precision < 0.95


def test_unidentifiable_lines_are_never_auto_posted(run) -> None:  # type: ignore[no-untyped-def]
    case, results, _ = run
    for line_id, truth in case.truths.items():
        if not truth.identifiable:
            assert results[line_id].decision is not Decision.AUTO, line_id
