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


@dataclass(frozen=True, slots=True)
class Schedule:
    stages: tuple[EffectiveStage, ...]
    note: str  # the schedule-wide choice ("standard", "high risk: ...", "reliable payer: ...")
    reliable: bool

    def index_of(self, stage_key: str) -> int:
        """Position of a stage key in this schedule, -1 when absent (e.g. skipped for reliable payers)."""
        for i, eff in enumerate(self.stages):
            if eff.stage.key == stage_key:
                return i
        return -1


def adapt_schedule(policy: Policy, band: RiskBand | None, reliable_customer: bool) -> Schedule:
    """The stages this invoice follows: faster for high risk, fewer and gentler for reliable payers."""
    if not policy.risk.enabled:
        return Schedule(tuple(EffectiveStage(s, s.offset_days, s.tone, "") for s in policy.stages),
                        "standard schedule (risk adaptation off)", False)
    if band is RiskBand.HIGH:
        return _high_risk(policy)
    if reliable_customer:
        return _reliable(policy)
    return Schedule(tuple(EffectiveStage(s, s.offset_days, s.tone, "") for s in policy.stages),
                    f"standard schedule ({band or 'unscored'} risk)", False)


def _high_risk(policy: Policy) -> Schedule:
    lead, pace = policy.risk.high_risk_lead_days, policy.risk.high_risk_pace
    out: list[EffectiveStage] = []
    previous: int | None = None
    for stage in policy.stages:
        if stage.offset_days <= 0:
            offset = stage.offset_days - lead  # start earlier
        else:
            offset = int((Decimal(stage.offset_days) * pace).to_integral_value(ROUND_HALF_UP))  # move faster
        if previous is not None and offset <= previous:
            offset = previous + 1  # keep the order the admin chose
        previous = offset
        note = f"high risk: {stage.offset_days:+d} -> {offset:+d} days" if offset != stage.offset_days else ""
        out.append(EffectiveStage(stage, offset, stage.tone, note))
    return Schedule(tuple(out), f"high risk: starts {lead} days earlier, overdue stages at x{pace} pace",
                    False)


def _reliable(policy: Policy) -> Schedule:
    soften = policy.risk.soften_for_reliable
    kept = [s for s in policy.stages if not s.skip_for_reliable] or list(policy.stages)
    skipped = [s.key for s in policy.stages if s not in kept]
    out = []
    for stage in kept:
        tone = _SOFTER.get(stage.tone, stage.tone) if soften else stage.tone
        note = f"reliable payer: tone {stage.tone} -> {tone}" if tone != stage.tone else ""
        out.append(EffectiveStage(stage, stage.offset_days, tone, note))
    summary = "reliable payer: fewer, gentler touches"
    if skipped:
        summary += f" (skips {', '.join(skipped)})"
    return Schedule(tuple(out), summary, True)
