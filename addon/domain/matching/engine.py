"""The matching engine: one bank line + the blocking index -> auto-post, suggestions or nothing.

Evidence is combined as a noisy-OR of reference, payer identity and amount equality, then scaled by
how plausible the amount difference is (fee, FX, short- or over-payment). Only a confident candidate
with a clear lead over the runner-up is auto-posted; everything else goes to the exception queue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from addon.domain.statements.text import minor_units
from addon.domain.types import Allocation, BankLine

from .amounts import AmountFit, fee_tolerance_minor, fit_amount, from_minor, to_minor
from .identify import Identity, identify_payer
from .index import MatchingIndex
from .model import Candidate, Decision, MatchingConfig, MatchResult, Residual
from .references import NUMERIC, RefHit, find_references, is_typo_of, remittance_text
from .subset import subset_sums

DEFAULT_CONFIG = MatchingConfig()
_REF_WEIGHT, _PAYER_WEIGHT = 0.9, 0.85
_CONFLICT_PENALTY = 0.6  # the payer is clearly someone else
_OTHER_REFS_PENALTY = 0.85  # remittance names further invoices this allocation leaves out
_BELOW_AUTO = 0.01  # how far under the auto-post threshold a contradicted candidate is capped
_MAX_GROUP = 50  # invoices quoted in one remittance advice that form one allocation
_MAX_SUBSETS = 4
_PARTIAL_FALLBACKS = 3
_FOREIGN = AmountFit(Residual.FX, 0, 0.0, 0.85, 0.7)  # line and invoice currencies differ


@dataclass(frozen=True, slots=True)
class _Line:
    line: BankLine
    minor: int  # the amount in minor units of the line's currency (``digits`` decimals)
    currency: str
    digits: int
    text: str
    refs: dict[int, RefHit]
    payers: dict[str, Identity]
    exact_refs: dict[int, str]
    strong_payer: bool


def match_lines(lines: Iterable[BankLine], index: MatchingIndex,
                config: MatchingConfig = DEFAULT_CONFIG) -> list[MatchResult]:
    """Match every line independently against the same index."""
    return [match_line(line, index, config) for line in lines]


def match_line(line: BankLine, index: MatchingIndex, config: MatchingConfig = DEFAULT_CONFIG) -> MatchResult:
    """Decide what to do with one bank line."""
    if line.reversal or line.amount <= 0:
        return MatchResult(Decision.NONE, 0.0, "not an incoming customer payment (outgoing or reversal)")
    text = remittance_text(line)
    digits = minor_units(line.currency)
    minor = to_minor(line.amount, line.currency)
    lo, hi = _window(minor, digits, config)
    refs = find_references(text, index, lambda pos: lo <= index.minor[pos] <= hi)
    payers = identify_payer(line, index)
    ctx = _Line(line, minor, line.currency.upper(), digits, text, refs, payers,
                exact_refs={p: h.token for p, h in refs.items() if h.kind == "exact"},
                strong_payer=any(i.strength >= 0.9 for i in payers.values()))
    return _decide(_rank(_candidates(ctx, index, config)), ctx, index, config)


@dataclass(frozen=True, slots=True)
class _Scored:
    """A scored allocation before its explanation is written (only the top few get one)."""

    confidence: float
    positions: tuple[int, ...]
    customer_id: str
    fit: AmountFit
    due: int
    same_currency: bool
    conflict: bool
    names_others: bool
    subset: bool
    foreign_quotes: tuple[int, ...] = ()  # quoted invoices of other customers (never auto-post)


def _candidates(ctx: _Line, index: MatchingIndex, config: MatchingConfig) -> list[_Scored]:
    out = [_score((pos,), ctx, index, config) for pos in _single_positions(ctx, index, config)]
    out.extend(_score(group, ctx, index, config) for group in _reference_groups(ctx, index))
    referenced = {index.invoices[p].customer_id for p, h in ctx.refs.items() if h.strength >= NUMERIC}
    for cid in ctx.payers:
        # Subset-sum only where nothing else explains the line: no exact amount, no quoted invoice.
        if cid not in referenced and not any(c.fit.residual is None and c.customer_id == cid for c in out):
            out.extend(_score(group, ctx, index, config, subset=True)
                       for group in _customer_subsets(cid, ctx, index, config))
            out.extend(_score((pos,), ctx, index, config) for pos in _oldest_open(cid, ctx, index))
    return out


def _single_positions(ctx: _Line, index: MatchingIndex, config: MatchingConfig) -> set[int]:
    lo, hi = _window(ctx.minor, ctx.digits, config)
    # Weak references (typo neighbours, short bare numbers) only count where amount or payer agree;
    # dense invoice numbering gives every number many one-edit neighbours.
    positions = {pos for pos, hit in ctx.refs.items()
                 if hit.strength >= NUMERIC or lo <= index.minor[pos] <= hi
                 or index.invoices[pos].customer_id in ctx.payers}
    for cid in ctx.payers:
        bucket = index.customer_amounts.get(cid)
        if bucket is not None:
            positions.update(bucket.between(lo, hi))
    bucket = index.amounts.get(ctx.currency)
    if bucket is not None:
        hits = bucket.between(ctx.minor, ctx.minor + fee_tolerance_minor(config, ctx.digits))
        if len(hits) <= config.max_amount_candidates:
            positions.update(hits)
    return positions


def _window(minor: int, digits: int, config: MatchingConfig) -> tuple[int, int]:
    # In the line currency's minor units (invoices in other currencies never fit by amount anyway).
    fx = config.fx_tolerance_pct
    return int(minor / (1 + fx)) - 1, int(minor / (1 - fx)) + fee_tolerance_minor(config, digits) + 1


def _reference_groups(ctx: _Line, index: MatchingIndex) -> list[tuple[int, ...]]:
    by_customer: defaultdict[str, list[int]] = defaultdict(list)
    for pos, hit in ctx.refs.items():
        if hit.strength >= NUMERIC:
            by_customer[index.invoices[pos].customer_id].append(pos)
    return [tuple(sorted(p))[:_MAX_GROUP] for p in by_customer.values() if len(p) >= 2]


def _customer_subsets(cid: str, ctx: _Line, index: MatchingIndex,
                      config: MatchingConfig) -> list[tuple[int, ...]]:
    # Exact sums only: with a tolerance window, coincidental combinations multiply quickly.
    pool = [p for p in index.customer_by_due.get(cid, ()) if index.minor[p] < ctx.minor]
    pool = pool[:config.max_subset_pool]
    found = subset_sums([index.minor[p] for p in pool], ctx.minor, max_size=config.max_subset_size)
    groups = [tuple(pool[i] for i in combo) for combo in found]
    # Payment runs settle invoices that fell due together: fewer invoices, then closer due dates first.
    groups.sort(key=lambda g: (len(g), _due_spread(g, index)))
    return groups[:_MAX_SUBSETS]


def _due_spread(group: tuple[int, ...], index: MatchingIndex) -> int:
    dues = [index.invoices[p].due_date for p in group]
    return (max(dues) - min(dues)).days


def _oldest_open(cid: str, ctx: _Line, index: MatchingIndex) -> list[int]:
    # With no reference and no amount fit, the oldest larger invoices are the likeliest partial targets.
    larger = (p for p in index.customer_by_due.get(cid, ()) if index.minor[p] > ctx.minor)
    return [p for _, p in zip(range(_PARTIAL_FALLBACKS), larger, strict=False)]


def _score(positions: tuple[int, ...], ctx: _Line, index: MatchingIndex, config: MatchingConfig,
           *, subset: bool = False) -> _Scored:
    due = sum(index.minor[p] for p in positions)
    cid = index.invoices[positions[0]].customer_id
    same_currency = all(index.invoices[p].currency.upper() == ctx.currency for p in positions)
    fit = fit_amount(ctx.minor, due, config, ctx.text, digits=ctx.digits) if same_currency else _FOREIGN
    ref = sum(ctx.refs[p].strength if p in ctx.refs else 0.0 for p in positions) / len(positions)
    payer = ctx.payers[cid].strength if cid in ctx.payers else 0.0
    identity = 1 - (1 - _REF_WEIGHT * ref) * (1 - _PAYER_WEIGHT * payer) * (1 - fit.identity)
    confidence = identity * fit.fit(ref)
    conflict = payer < 0.5 and ctx.strong_payer
    if conflict:
        confidence *= _CONFLICT_PENALTY
    names_others = fit.residual is not None and _names_others(positions, ctx)
    if names_others:
        confidence *= _OTHER_REFS_PENALTY
    if subset:
        # More invoices in a reference-less combination -> more likely a coincidence of sums.
        confidence *= 0.99 - 0.03 * (len(positions) - 2)
    foreign = _foreign_quotes(positions, cid, ctx, index)
    if foreign:
        # The remittance names another customer's invoice: a payment on behalf of that customer or a
        # coincidental payer name. However well payer and amount fit, only a human can tell.
        confidence = min(confidence, max(0.0, config.auto_threshold - _BELOW_AUTO))
    return _Scored(round(confidence, 4), tuple(sorted(positions)), cid, fit, due, same_currency, conflict,
                   names_others, subset, foreign)


def _foreign_quotes(positions: Sequence[int], cid: str, ctx: _Line, index: MatchingIndex) -> tuple[int, ...]:
    """Invoices of other customers the remittance quotes verbatim and that contradict this allocation."""
    others = (p for p in ctx.exact_refs if index.invoices[p].customer_id != cid)
    return tuple(sorted(p for p in others if not _reads_as_typo(ctx.exact_refs[p], p, positions, ctx, index)))


def _reads_as_typo(token: str, quoted: int, positions: Sequence[int], ctx: _Line, index: MatchingIndex) -> bool:
    # Dense numbering makes a mistyped number often name some other invoice verbatim. When the token is
    # one edit from this allocation's own invoice number and the quoted invoice is not paid to the cent,
    # a typo explains the line better than a payment for someone else. An exact amount on the quoted
    # invoice leaves both readings open: then a human decides.
    return index.minor[quoted] != ctx.minor and any(is_typo_of(token, index.ref_keys[p]) for p in positions)


def _explain(scored: _Scored, ctx: _Line, index: MatchingIndex) -> Candidate:
    evidence = _reference_evidence(scored.positions, ctx, index)
    if scored.customer_id in ctx.payers:
        evidence.append(ctx.payers[scored.customer_id].evidence)
    if scored.conflict:
        evidence.append("but the payer looks like a different customer")
    if scored.names_others:
        evidence.append("remittance also names invoices not in this allocation")
    evidence.extend(_quote_evidence(scored.foreign_quotes, index))
    if scored.subset:
        evidence.append(f"{len(scored.positions)} open invoices of {scored.customer_id} add up to the amount")
    evidence.append(_amount_evidence(scored.fit, ctx, scored.due, scored.same_currency))
    fit = scored.fit
    return Candidate(allocations=_allocate(scored.positions, ctx, index, fit), confidence=scored.confidence,
                     evidence=tuple(evidence), residual=fit.residual, deduction_reason=fit.deduction_reason,
                     residual_amount=from_minor(fit.residual_minor, ctx.currency),
                     customer_id=scored.customer_id, invoices=tuple(index.invoices[p].invoice_id for p in
                                                                 _oldest_first(scored.positions, index)))


def _quote_evidence(quoted: Sequence[int], index: MatchingIndex) -> list[str]:
    invoices = (index.invoices[p] for p in quoted)
    return [f"but the remittance quotes {i.number} of {i.customer_name} ({i.customer_id}): not auto-posted"
            for i in invoices]


def _names_others(positions: Sequence[int], ctx: _Line) -> bool:
    """Does the remittance quote, verbatim, an invoice this allocation leaves out?"""
    if not ctx.exact_refs:
        return False
    own = {ctx.refs[p].token for p in positions if p in ctx.refs}
    return any(token not in own and p not in positions for p, token in ctx.exact_refs.items())


def _allocate(positions: Sequence[int], ctx: _Line, index: MatchingIndex,
              fit: AmountFit) -> tuple[Allocation, ...]:
    """Fee/FX/overpayment close the invoices in full; short payments are applied oldest due first."""
    ordered = _oldest_first(positions, index)
    if fit.residual not in (Residual.PARTIAL, Residual.DEDUCTION):
        return tuple(Allocation(index.invoices[p].invoice_id, from_minor(index.minor[p], index.invoices[p].currency))
                     for p in ordered)
    left, out = ctx.minor, []
    for p in ordered:
        take = min(left, index.minor[p])
        if take > 0:
            out.append(Allocation(index.invoices[p].invoice_id, from_minor(take, index.invoices[p].currency)))
        left -= take
    return tuple(out)


def _oldest_first(positions: Sequence[int], index: MatchingIndex) -> list[int]:
    return sorted(positions, key=lambda p: (index.invoices[p].due_date, index.invoices[p].number))


def _reference_evidence(positions: Sequence[int], ctx: _Line, index: MatchingIndex) -> list[str]:
    words = {"exact": "names", "numeric": "matches the number of", "typo": "is one typo away from"}
    return [f"reference '{ctx.refs[p].token}' {words[ctx.refs[p].kind]} {index.invoices[p].number}"
            for p in positions if p in ctx.refs]


def _amount_evidence(fit: AmountFit, ctx: _Line, due: int, same_currency: bool) -> str:
    amount, total, diff = (from_minor(units, ctx.currency) for units in (ctx.minor, due, fit.residual_minor))
    if not same_currency:
        return f"line currency {ctx.currency} differs from the invoice currency: FX conversion needed"
    texts = {
        None: f"amount {amount} equals the amount due",
        Residual.FEE: f"{diff} short of {total}, within the bank-fee tolerance",
        Residual.FX: f"{diff} off {total}, within the FX tolerance",
        Residual.OVERPAYMENT: f"overpays {total} by {diff}: unapplied credit",
        Residual.PARTIAL: f"pays {amount} of {total}: partial payment",
        Residual.DEDUCTION: f"{diff} short of {total}: deduction ({fit.deduction_reason}), propose a credit note",
    }
    return texts[fit.residual]


def _rank(candidates: list[_Scored]) -> list[_Scored]:
    best: dict[tuple[int, ...], _Scored] = {}
    for cand in candidates:
        if cand.positions not in best or cand.confidence > best[cand.positions].confidence:
            best[cand.positions] = cand
    return sorted(best.values(), key=lambda c: (-c.confidence, c.positions))


def _shortlist(ranked: list[_Scored], config: MatchingConfig) -> list[_Scored]:
    """Up to three candidates worth showing, best first. When the best one is contradicted by a quoted
    invoice of another customer, that invoice is shown too (whatever its score): the human needs both."""
    shown = [c for c in ranked if c.confidence >= config.suggest_floor][:3]
    if not shown or not shown[0].foreign_quotes:
        return shown
    quoted = {(p,) for p in shown[0].foreign_quotes}
    picks: dict[tuple[int, ...], _Scored] = {}
    for cand in [shown[0], *(c for c in ranked if c.positions in quoted), *shown[1:]]:
        picks.setdefault(cand.positions, cand)
    return sorted(list(picks.values())[:3], key=lambda c: (-c.confidence, c.positions))


def _decide(ranked: list[_Scored], ctx: _Line, index: MatchingIndex, config: MatchingConfig) -> MatchResult:
    shown = tuple(_explain(c, ctx, index) for c in _shortlist(ranked, config))
    if not shown:
        return MatchResult(Decision.NONE, ranked[0].confidence if ranked else 0.0,
                           "no open invoice fits this line")
    top = shown[0]
    runner_up = ranked[1].confidence if len(ranked) > 1 else 0.0
    explanation = top.explanation
    decision = Decision.SUGGEST
    if top.confidence >= config.auto_threshold and top.confidence - runner_up >= config.min_lead:
        decision = Decision.AUTO
    elif top.confidence >= config.auto_threshold:
        explanation += f"; runner-up too close ({runner_up:.2f} vs {top.confidence:.2f}): needs a human"
    else:
        explanation += f"; confidence {top.confidence:.2f} below the auto-post threshold"
    return MatchResult(decision, top.confidence, explanation,
                       allocations=top.allocations if decision is Decision.AUTO else (),
                       suggestions=shown, residual=top.residual, residual_amount=top.residual_amount,
                       deduction_reason=top.deduction_reason, customer_id=top.customer_id)
