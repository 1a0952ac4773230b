"""Risk adaptation: bend a policy's schedule for one invoice's risk band and the customer's history."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from addon.domain.dunning.policy import Policy, RiskBand, Stage, Tone

_SOFTER = {Tone.FIRM: Tone.FRIENDLY, Tone.URGENT: Tone.FIRM}


@dataclass(frozen=True, slots=True)
class EffectiveStage:
    """A stage as it applies to one invoice: possibly moved earlier or softened, with the reason."""

    stage: Stage
    offset_days: int
    tone: Tone
    note: str  # empty when the stage is used as configured
    position: int  # index of the stage in the policy, also for schedules that skip stages


@dataclass(frozen=True, slots=True)
class Schedule:
    stages: tuple[EffectiveStage, ...]
    note: str  # the schedule-wide choice ("standard", "high risk: ...", "reliable payer: ...")
    reliable: bool
    positions: dict[str, int]  # every policy stage key -> its index in the policy

    def next_index(self, sent: set[str]) -> int:
        """Index in ``stages`` of the first stage after everything already sent.

        Compared by policy position, so a stage this schedule skips (a customer that became reliable
        after +14 was sent) still blocks every earlier stage.
        """
        last = max((self.positions[k] for k in sent if k in self.positions), default=-1)
        for i, eff in enumerate(self.stages):
            if eff.position > last:
                return i
        return len(self.stages)


def adapt_schedule(policy: Policy, band: RiskBand | None, reliable_customer: bool) -> Schedule:
    """The stages this invoice follows: faster for high risk, fewer and gentler for reliable payers."""
    if not policy.risk.enabled:
        return _standard(policy, "standard schedule (risk adaptation off)")
    if band is RiskBand.HIGH:
        return _high_risk(policy)
    if reliable_customer:
        return _reliable(policy)
    return _standard(policy, f"standard schedule ({band or 'unscored'} risk)")


def _positions(policy: Policy) -> dict[str, int]:
    return {s.key: i for i, s in enumerate(policy.stages)}


def _standard(policy: Policy, note: str) -> Schedule:
    stages = tuple(EffectiveStage(s, s.offset_days, s.tone, "", i) for i, s in enumerate(policy.stages))
    return Schedule(stages, note, False, _positions(policy))


def _high_risk(policy: Policy) -> Schedule:
    lead, pace = policy.risk.high_risk_lead_days, policy.risk.high_risk_pace
    out: list[EffectiveStage] = []
    previous: int | None = None
    for i, stage in enumerate(policy.stages):
        if stage.offset_days <= 0:
            offset = stage.offset_days - lead  # start earlier
        else:
            offset = int((Decimal(stage.offset_days) * pace).to_integral_value(ROUND_HALF_UP))  # move faster
        if previous is not None and offset <= previous:
            offset = previous + 1  # keep the order the admin chose
        previous = offset
        note = f"high risk: {stage.offset_days:+d} -> {offset:+d} days" if offset != stage.offset_days else ""
        out.append(EffectiveStage(stage, offset, stage.tone, note, i))
    return Schedule(tuple(out), f"high risk: starts {lead} days earlier, overdue stages at x{pace} pace",
                    False, _positions(policy))


def _reliable(policy: Policy) -> Schedule:
    soften = policy.risk.soften_for_reliable
    positions = _positions(policy)
    kept = [s for s in policy.stages if not s.skip_for_reliable] or list(policy.stages)
    skipped = [s.key for s in policy.stages if s not in kept]
    out = []
    for stage in kept:
        tone = _SOFTER.get(stage.tone, stage.tone) if soften else stage.tone
        note = f"reliable payer: tone {stage.tone} -> {tone}" if tone != stage.tone else ""
        out.append(EffectiveStage(stage, stage.offset_days, tone, note, positions[stage.key]))
    summary = "reliable payer: fewer, gentler touches"
    if skipped:
        summary += f" (skips {', '.join(skipped)})"
    return Schedule(tuple(out), summary, True, positions)
