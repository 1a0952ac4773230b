"""Dunning engine (pure): policies and stages, risk-adaptive schedules and the reminder planner."""

from __future__ import annotations

from addon.domain.dunning.adapt import EffectiveStage, Schedule, adapt_schedule
from addon.domain.dunning.model import (
    ActionLine,
    ChaseHold,
    DunningCustomer,
    DunningInvoice,
    DunningPlan,
    DunningSettings,
    ReminderAction,
    SendSlot,
    SentStage,
    Skip,
    exactly_once_key,
)
from addon.domain.dunning.planner import plan_reminders, plan_run
from addon.domain.dunning.policy import (
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
    validate_policy,
)
from addon.domain.dunning.preview import action_as_json, preview_day, reminder_notes
from addon.domain.dunning.sendtime import ReminderOutcome, learn_send_slots
from addon.domain.dunning.statutory import StatutoryClaim, statutory_claim
from addon.domain.dunning.stops import stop_reason

__all__ = [
    "ActionLine", "Channel", "ChaseHold", "DunningCustomer", "DunningInvoice", "DunningPlan", "DunningSettings",
    "EffectiveStage", "Policy", "PolicyError", "PolicySet", "ReminderAction", "ReminderOutcome",
    "RiskAdaptation", "RiskBand", "Schedule", "SendSlot", "SentStage", "Skip", "Stage", "StageConditions",
    "StatutoryClaim", "Tone", "action_as_json", "adapt_schedule", "default_policy", "exactly_once_key",
    "learn_send_slots", "plan_reminders", "plan_run", "preview_day", "reminder_notes", "statutory_claim",
    "stop_reason", "validate_policy",
]
