"""Dunning policies in the database <-> the engine's types: seeding the default, loading a PolicySet,
tenant-wide DunningSettings and the tenant's own templates. Flushes, never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.domain.dunning import (
    Channel,
    DunningSettings,
    Policy,
    PolicySet,
    RiskBand,
    Stage,
    StageConditions,
    Tone,
    default_policy,
)
from addon.mail import DEFAULT_TEMPLATES, TemplateSource
from addon.models import DunningPolicy, DunningStage, Tenant
from addon.services.dunning_holidays import holiday_lookup, holiday_region

# Tenant-wide settings live in the default policy's ``options`` under these names.
# Languages a stage's template can have a variant in. English is the primary row that defines the schedule;
# other languages are extra DunningStage rows (same policy and key) that only carry subject and body.
LANGUAGES = ("en", "nl", "de", "fr", "es")
PRIMARY_LANGUAGE = "en"

SETTING_NAMES = ("timezone", "send_hour", "quiet_start", "quiet_end", "business_days_only", "frequency_cap",
                 "frequency_window_days", "statutory_pack", "reference_rates", "holiday_country",
                 "holiday_subdivision")


@dataclass(frozen=True)
class TenantPolicies:
    """Everything the planner and the composer need from the tenant's configuration."""

    policies: PolicySet
    settings: DunningSettings
    templates: dict[tuple[str, str], TemplateSource]
    by_id: dict[str, Policy]


def ensure_default_policy(session: Session, tenant: Tenant) -> DunningPolicy:
    """The tenant's default policy, created from the engine's default (with shipped templates) if missing."""
    row = session.scalar(select(DunningPolicy).where(DunningPolicy.tenant_id == tenant.id,
                                                     DunningPolicy.is_default.is_(True)))
    if row is not None:
        return row
    engine_default = default_policy()
    row = DunningPolicy(tenant_id=tenant.id, name=engine_default.name, enabled=True, is_default=True,
                        segment={}, options={})
    for position, stage in enumerate(engine_default.stages):
        row.stages.append(stage_row(tenant.id, position, stage))
    session.add(row)
    session.flush()
    return row


def stage_row(tenant_id: int, position: int, stage: Stage) -> DunningStage:
    """A DunningStage row for an engine Stage, carrying the shipped template text for its key."""
    template = DEFAULT_TEMPLATES.get(stage.template_key)
    return DunningStage(
        tenant_id=tenant_id, key=stage.key, position=position, offset_days=stage.offset_days,
        tone=str(stage.tone), channel=str(stage.channel), language="en",
        subject_template=template.subject if template else "", body_template=template.body if template else "",
        min_amount=stage.conditions.min_amount,
        risk_bands=sorted(str(b) for b in stage.conditions.risk_bands or ()),
        needs_approval=stage.needs_approval, show_statutory=stage.show_statutory,
        skip_for_reliable=stage.skip_for_reliable)


def primary_stages(policy: DunningPolicy) -> list[DunningStage]:
    """The policy's schedule: its English stage rows in position order (language variants excluded)."""
    return sorted((s for s in policy.stages if (s.language or PRIMARY_LANGUAGE) == PRIMARY_LANGUAGE),
                  key=lambda s: (s.position is None, s.position or 0))  # a new row has no position yet


def language_variants(policy: DunningPolicy, key: str) -> dict[str, DunningStage]:
    """The non-English template rows of one stage, by language."""
    return {s.language: s for s in policy.stages
            if s.key == key and (s.language or PRIMARY_LANGUAGE) != PRIMARY_LANGUAGE}


def policy_language(policy: DunningPolicy) -> str:
    """The language a policy writes to its customers in (``options["language"]``; English when unset)."""
    language = str((policy.options or {}).get("language") or PRIMARY_LANGUAGE)
    return language if language in LANGUAGES else PRIMARY_LANGUAGE


def template_key(policy: DunningPolicy, stage_key: str) -> str:
    """The template key for a stage: the stage key on the default policy, scoped by policy elsewhere, so two
    policies with the same stage keys (a copy) keep their own texts."""
    return stage_key if policy.is_default else f"policy-{policy.id}/{stage_key}"


def to_stage(row: DunningStage, template: str = "") -> Stage:
    """The engine Stage for a row (raises ValueError on an unknown tone or channel)."""
    bands = frozenset(RiskBand(b) for b in row.risk_bands or ()) or None
    return Stage(key=row.key, offset_days=row.offset_days, tone=Tone(row.tone), channel=Channel(row.channel),
                 template=template,
                 conditions=StageConditions(min_amount=row.min_amount, risk_bands=bands),
                 needs_approval=row.needs_approval, show_statutory=row.show_statutory,
                 skip_for_reliable=row.skip_for_reliable)


def to_policy(row: DunningPolicy) -> Policy:
    """The engine Policy for a row (raises PolicyError when the stored stages are inconsistent)."""
    return Policy(policy_id=str(row.id), name=row.name,
                  stages=tuple(to_stage(s, template_key(row, s.key)) for s in primary_stages(row)),
                  enabled=row.enabled)


def load_policies(session: Session, tenant: Tenant) -> TenantPolicies:
    """The tenant's PolicySet (default + per-customer/segment assignments), settings and templates."""
    default_row = ensure_default_policy(session, tenant)
    rows = session.scalars(select(DunningPolicy).where(DunningPolicy.tenant_id == tenant.id)
                           .order_by(DunningPolicy.id)).all()
    by_id = {str(r.id): to_policy(r) for r in rows}
    by_customer: dict[str, str] = {}
    by_segment: dict[str, str] = {}
    for r in rows:
        for customer_id in (r.segment or {}).get("customers", []):
            by_customer[str(customer_id)] = str(r.id)
        if (r.segment or {}).get("segment"):
            by_segment[str(r.segment["segment"])] = str(r.id)
    templates: dict[tuple[str, str], TemplateSource] = {}
    for r in rows:
        templates |= policy_templates(r)
    policies = PolicySet(default=by_id[str(default_row.id)], policies=by_id, by_customer=by_customer,
                         by_segment=by_segment)
    return TenantPolicies(policies, settings_from_options(default_row.options or {}, tenant.country), templates,
                          by_id)


def tenant_timezone(session: Session, tenant: Tenant) -> str:
    """The tenant's dunning timezone: the default policy's setting, as ``load_policies`` reads it, without
    building every policy and template to get there."""
    return settings_from_options(ensure_default_policy(session, tenant).options or {}).timezone


def tenant_today(session: Session, tenant: Tenant) -> date:
    """Today in the tenant's dunning timezone."""
    return datetime.now(ZoneInfo(tenant_timezone(session, tenant))).date()


def policy_templates(policy: DunningPolicy) -> dict[tuple[str, str], TemplateSource]:
    """The policy's own templates by (template key, language). Customers carry no language of their own, so
    the engine asks for English: that entry holds the policy language's variant when there is one."""
    out: dict[tuple[str, str], TemplateSource] = {}
    language = policy_language(policy)
    for stage in primary_stages(policy):
        key = template_key(policy, stage.key)
        texts = {v.language: v for v in language_variants(policy, stage.key).values() if _has_text(v)}
        if _has_text(stage):
            texts[PRIMARY_LANGUAGE] = stage
        elif not policy.is_default and stage.key in DEFAULT_TEMPLATES:
            # A scoped key has no shipped template of its own: fall back to the one for the stage key.
            out[(key, PRIMARY_LANGUAGE)] = DEFAULT_TEMPLATES[stage.key]
        for lang, row in texts.items():
            out[(key, lang)] = TemplateSource(row.subject_template, row.body_template)
        if language in texts:
            out[(key, PRIMARY_LANGUAGE)] = out[(key, language)]
    return out


def _has_text(row: DunningStage) -> bool:
    return bool(row.subject_template.strip() and row.body_template.strip())


def settings_from_options(options: dict[str, Any], platform_country: str | None = None) -> DunningSettings:
    """DunningSettings from the stored options; anything missing keeps the engine's default.
    ``platform_country``: the organisation's country as the platform reports it (``tenants.country``), the
    holiday region when an admin has not set one."""
    base = DunningSettings()
    rates = tuple((date.fromisoformat(d), Decimal(str(r))) for d, r in options.get("reference_rates", []))
    timezone = str(options.get("timezone") or base.timezone)
    return DunningSettings(
        timezone=timezone,
        send_hour=int(options.get("send_hour", base.send_hour)),
        quiet_start=_time(options.get("quiet_start"), base.quiet_start),
        quiet_end=_time(options.get("quiet_end"), base.quiet_end),
        business_days_only=bool(options.get("business_days_only", base.business_days_only)),
        frequency_cap=int(options.get("frequency_cap", base.frequency_cap)),
        frequency_window=timedelta(days=int(options.get("frequency_window_days", base.frequency_window.days))),
        statutory_pack=options.get("statutory_pack") or None,
        reference_rates=rates,
        holidays=holiday_lookup(*holiday_region(options, timezone, platform_country)),
    )


def _time(value: Any, default: time) -> time:
    return time.fromisoformat(str(value)) if value else default
