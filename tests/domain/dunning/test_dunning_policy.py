from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

import pytest

from addon.domain.dunning import (
    Channel,
    Policy,
    PolicyError,
    PolicySet,
    RiskAdaptation,
    RiskBand,
    Stage,
    StageConditions,
    Tone,
    default_policy,
)


def test_default_policy_ships_the_documented_schedule():
    policy = default_policy()
    assert [s.offset_days for s in policy.stages] == [-3, 0, 7, 14, 30, 45]
    assert [s.tone for s in policy.stages] == [Tone.FRIENDLY, Tone.FRIENDLY, Tone.FIRM, Tone.FIRM,
                                               Tone.URGENT, Tone.FINAL]
    final = policy.stages[-1]
    assert final.needs_approval
    assert final.show_statutory
    assert not any(s.needs_approval for s in policy.stages[:-1])
    assert all(s.channel is Channel.EMAIL for s in policy.stages)


@pytest.mark.parametrize(("stages", "message"), [
    ((), "at least one stage"),
    ((Stage("a", 0, Tone.FRIENDLY), Stage("a", 7, Tone.FIRM)), "used twice"),
    ((Stage("a", 7, Tone.FRIENDLY), Stage("b", 7, Tone.FIRM)), "must be later than +7"),
    ((Stage("Bad Key", 0, Tone.FRIENDLY),), "lowercase"),
    ((Stage("a", 0, Tone.FRIENDLY, conditions=StageConditions(min_amount=Decimal("-1"))),), "negative"),
])
def test_invalid_policies_are_rejected_with_every_reason(stages, message):
    with pytest.raises(PolicyError, match=re.escape(message)):
        Policy("p", "P", stages)


def test_bad_risk_pace_is_rejected():
    with pytest.raises(PolicyError, match="pace"):
        Policy("p", "P", (Stage("a", 0, Tone.FRIENDLY),), risk=RiskAdaptation(high_risk_pace=Decimal("1.5")))


@pytest.mark.parametrize(("conditions", "amount", "band", "allowed"), [
    (StageConditions(), Decimal("1"), None, True),
    (StageConditions(min_amount=Decimal("100")), Decimal("99.99"), None, False),
    (StageConditions(min_amount=Decimal("100")), Decimal("100"), None, True),
    (StageConditions(risk_bands=frozenset({RiskBand.HIGH})), Decimal("1"), RiskBand.LOW, False),
    (StageConditions(risk_bands=frozenset({RiskBand.HIGH})), Decimal("1"), RiskBand.HIGH, True),
    (StageConditions(risk_bands=frozenset({RiskBand.MEDIUM, RiskBand.HIGH})), Decimal("1"), None, True),
])
def test_stage_conditions(conditions, amount, band, allowed):
    assert conditions.allows(amount, band) is allowed


def test_policy_set_prefers_customer_then_segment_then_default():
    default = default_policy()
    gentle = replace(default, policy_id="gentle", name="Gentle")
    strict = replace(default, policy_id="strict", name="Strict")
    book = PolicySet(default, {"gentle": gentle, "strict": strict}, by_customer={"C1": "strict"},
                     by_segment={"retail": "gentle"})
    assert book.for_customer("C1", "retail") is strict
    assert book.for_customer("C2", "retail") is gentle
    assert book.for_customer("C3", None) is default
    assert book.for_customer("C3", "wholesale") is default
