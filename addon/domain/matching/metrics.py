"""Benchmark figures: how often the engine posts, how often it is right, how good its suggestions are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from addon.domain.types import Allocation

from .model import Decision, MatchResult
from .synthetic import Truth


@dataclass(frozen=True, slots=True)
class Scorecard:
    """Figures over one run; rates are None when their denominator is empty."""

    lines: int
    auto_posts: int
    auto_post_precision: float | None  # auto posts whose whole allocation is right
    auto_match_rate: float | None  # identifiable lines auto-posted correctly
    identifiable_rate: float  # lines a careful human could place (truth known and unambiguous)
    top1: float | None  # identifiable exceptions whose first suggestion is right
    top3: float | None  # ... right within the first three
    false_posts_on_ambiguous: int  # auto posts on ambiguous or unrelated lines

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "lines": self.lines, "auto_posts": self.auto_posts,
            "auto_post_precision": _round(self.auto_post_precision), "auto_match_rate": _round(self.auto_match_rate),
            "identifiable_rate": _round(self.identifiable_rate), "top1": _round(self.top1),
            "top3": _round(self.top3), "false_posts_on_ambiguous": self.false_posts_on_ambiguous,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def same_allocation(a: Sequence[Allocation], b: Sequence[Allocation]) -> bool:
    """Whole-allocation equality: same invoices with the same amounts, order ignored."""
    return sorted((x.invoice_id, x.amount) for x in a) == sorted((x.invoice_id, x.amount) for x in b)


def score_run(results: Mapping[str, MatchResult], truths: Mapping[str, Truth]) -> Scorecard:
    """Compare engine verdicts with the known truth, line by line."""
    autos = correct_autos = identifiable = auto_ident_ok = exceptions = top1 = top3 = false_posts = 0
    for line_id, truth in truths.items():
        result = results[line_id]
        identifiable += truth.identifiable
        if result.decision is Decision.AUTO:
            autos += 1
            ok = same_allocation(result.allocations, truth.allocations)
            correct_autos += ok
            auto_ident_ok += ok and truth.identifiable
            false_posts += not truth.identifiable
        elif truth.identifiable:
            exceptions += 1
            ranks = [same_allocation(s.allocations, truth.allocations) for s in result.suggestions[:3]]
            top1 += bool(ranks[:1] and ranks[0])
            top3 += any(ranks)
    return Scorecard(lines=len(truths), auto_posts=autos, auto_post_precision=_ratio(correct_autos, autos),
                     auto_match_rate=_ratio(auto_ident_ok, identifiable),
                     identifiable_rate=identifiable / len(truths) if truths else 0.0,
                     top1=_ratio(top1, exceptions), top3=_ratio(top3, exceptions),
                     false_posts_on_ambiguous=false_posts)
