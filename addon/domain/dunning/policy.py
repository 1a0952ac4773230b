"""Dunning policies: ordered stages (offset, tone, channel, template, conditions) and the default policy."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal


class Tone(enum.StrEnum):
    FRIENDLY = "friendly"
    FIRM = "firm"
    URGENT = "urgent"
    FINAL = "final"


class Channel(enum.StrEnum):
    EMAIL = "email"
    TASK = "task"  # a phone call or letter: lands on the collections worklist
    SMS = "sms"  # through a pluggable provider, off unless the tenant enables it


class RiskBand(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


TONE_ORDER: dict[Tone, int] = {Tone.FRIENDLY: 0, Tone.FIRM: 1, Tone.URGENT: 2, Tone.FINAL: 3}
_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(frozen=True, slots=True)
class StageConditions:
    """A stage only applies to invoices that meet these (None = no condition)."""

    min_amount: Decimal | None = None
    risk_bands: frozenset[RiskBand] | None = None

    def allows(self, amount_due: Decimal, band: RiskBand | None) -> bool:
        """True when an invoice with this balance and risk band qualifies for the stage."""
        if self.min_amount is not None and amount_due < self.min_amount:
            return False
        # An unscored invoice counts as medium: conditions written for "medium and up" still apply.
        return self.risk_bands is None or (band or RiskBand.MEDIUM) in self.risk_bands


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of a policy; ``offset_days`` is relative to the due date (negative = before due)."""

    key: str
    offset_days: int
    tone: Tone
    channel: Channel = Channel.EMAIL
    template: str = ""  # template key; defaults to the stage key
    conditions: StageConditions = field(default_factory=StageConditions)
    needs_approval: bool = False
    show_statutory: bool = False  # statutory interest/compensation shown only when the tenant enables it
    skip_for_reliable: bool = False  # reliable payers get fewer touches

    @property
    def template_key(self) -> str:
        return self.template or self.key


@dataclass(frozen=True, slots=True)
class RiskAdaptation:
    """How the schedule bends for risk: high risk starts earlier and moves faster, reliable gets gentler."""

    enabled: bool = True
    high_risk_lead_days: int = 2  # every stage of a high-risk invoice fires this many days earlier
    high_risk_pace: Decimal = Decimal("0.75")  # overdue offsets shrink by this factor (faster escalation)
    soften_for_reliable: bool = True  # firm -> friendly, urgent -> firm (final stays final)


@dataclass(frozen=True, slots=True)
class Policy:
    """A named, ordered list of stages plus its risk adaptation."""

    policy_id: str
    name: str
    stages: tuple[Stage, ...]
    risk: RiskAdaptation = field(default_factory=RiskAdaptation)
    enabled: bool = True

    def __post_init__(self) -> None:
        problems = validate_policy(self)
        if problems:
            raise PolicyError(problems)


@dataclass(frozen=True, slots=True)
class PolicySet:
    """All of a tenant's policies: a default plus assignments per customer and per segment."""

    default: Policy
    policies: Mapping[str, Policy] = field(default_factory=dict)
    by_customer: Mapping[str, str] = field(default_factory=dict)  # customer id -> policy id
    by_segment: Mapping[str, str] = field(default_factory=dict)  # segment name -> policy id

    def for_customer(self, customer_id: str, segment: str | None) -> Policy:
        """The policy assigned to this customer, else to its segment, else the default."""
        policy_id = self.by_customer.get(customer_id)
        if policy_id is None and segment is not None:
            policy_id = self.by_segment.get(segment)
        if policy_id is None:
            return self.default
        return self.policies.get(policy_id, self.default)


class PolicyError(ValueError):
    """A policy that cannot be saved; ``problems`` lists every reason, one per stage/field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def validate_policy(policy: Policy) -> list[str]:
    """Every reason this policy is unusable (empty list when it is fine)."""
    problems: list[str] = []
    if not policy.stages:
        problems.append("a policy needs at least one stage")
    seen: set[str] = set()
    previous: int | None = None
    for i, stage in enumerate(policy.stages, start=1):
        if not _KEY_RE.match(stage.key):
            problems.append(f"stage {i}: key {stage.key!r} must be 1-40 lowercase letters, digits, _ or -")
        if stage.key in seen:
            problems.append(f"stage {i}: key {stage.key!r} is used twice")
        seen.add(stage.key)
        if previous is not None and stage.offset_days <= previous:
            problems.append(f"stage {i}: offset {stage.offset_days:+d} must be later than {previous:+d}")
        previous = stage.offset_days
        if stage.conditions.min_amount is not None and stage.conditions.min_amount < 0:
            problems.append(f"stage {i}: minimum amount cannot be negative")
    if not Decimal("0") < policy.risk.high_risk_pace <= Decimal("1"):
        problems.append("high-risk pace must be in (0, 1]")
    if policy.risk.high_risk_lead_days < 0:
        problems.append("high-risk lead days cannot be negative")
    return problems


def default_policy() -> Policy:
    """The shipped policy: -3, 0, +7, +14, +30 and a final notice at +45 that waits for approval."""
    return Policy(
        policy_id="default",
        name="Standard",
        stages=(
            Stage("pre_due", -3, Tone.FRIENDLY, skip_for_reliable=True),
            Stage("due", 0, Tone.FRIENDLY),
            Stage("overdue_7", 7, Tone.FIRM),
            Stage("overdue_14", 14, Tone.FIRM, skip_for_reliable=True),
            Stage("overdue_30", 30, Tone.URGENT),
            Stage("final", 45, Tone.FINAL, needs_approval=True, show_statutory=True),
        ),
    )
