"""The dunning settings page's operations: validate and save stages, reorder, delete, switch a policy on or
off, and render a template on one of the tenant's real invoices. Flushes, never commits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2.exceptions import TemplateError
from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.domain.dunning import (
    ActionLine,
    Channel,
    Policy,
    PolicyError,
    ReminderAction,
    RiskBand,
    Tone,
    validate_policy,
)
from addon.mail import Company, TemplateSource, reminder_context, render, sample_context, validate_template
from addon.models import AuditLog, Customer, DunningPolicy, DunningStage, Invoice, Tenant
from addon.services.dunning_holidays import region_error
from addon.services.dunning_policies import (
    LANGUAGES,
    PRIMARY_LANGUAGE,
    language_variants,
    policy_language,
    primary_stages,
    to_stage,
)

FIELDS = ("key", "offset_days", "tone", "channel", "subject_template", "body_template", "min_amount",
          "risk_bands", "needs_approval", "show_statutory", "skip_for_reliable")


@dataclass
class StageInput:
    """A stage as typed into the form, and what is wrong with it (field -> message)."""

    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


MAX_OFFSET_DAYS = 3650  # ten years either side of the due date


def parse_stage_form(form: Mapping[str, Any], *, getlist: Any = None) -> StageInput:
    """Typed values from the submitted form; type problems are reported next to their field."""
    values: dict[str, Any] = {"key": str(form.get("key", "")).strip(),
                              "subject_template": str(form.get("subject_template", "")),
                              "body_template": str(form.get("body_template", "")).replace("\r\n", "\n")}
    errors: dict[str, str] = {}
    try:
        values["offset_days"] = int(str(form.get("offset_days", "")).strip())
    except ValueError:
        errors["offset_days"] = "a whole number of days (negative = before the due date)"
    else:
        if abs(values["offset_days"]) > MAX_OFFSET_DAYS:  # beyond any ledger's horizon, and the column's range
            errors["offset_days"] = f"at most {MAX_OFFSET_DAYS} days before or after the due date"
    for name, enum in (("tone", Tone), ("channel", Channel)):
        raw = str(form.get(name, ""))
        if raw in {m.value for m in enum}:
            values[name] = raw
        else:
            errors[name] = f"choose one of {', '.join(m.value for m in enum)}"
    raw_min = str(form.get("min_amount", "")).strip()
    try:
        min_amount = Decimal(raw_min) if raw_min else None
    except InvalidOperation:
        min_amount = Decimal("NaN")
    if min_amount is not None and not min_amount.is_finite():  # "NaN" and "Infinity" parse, but are no amounts
        errors["min_amount"] = "an amount such as 50 or 50.00, or empty"
    else:
        values["min_amount"] = min_amount
    bands = list(getlist("risk_bands") if getlist else form.get("risk_bands", []) or [])
    if any(b not in {m.value for m in RiskBand} for b in bands):
        errors["risk_bands"] = "unknown risk band"
    values["risk_bands"] = sorted(set(bands))
    for flag in ("needs_approval", "show_statutory", "skip_for_reliable"):
        values[flag] = str(form.get(flag, "")).lower() in ("1", "on", "true", "yes")
    errors |= template_errors(TemplateSource(values["subject_template"], values["body_template"]))
    return StageInput(values, errors)


def template_errors(source: TemplateSource) -> dict[str, str]:
    """Template problems by form field, each with its line ("line 3: unknown variable 'inv.amount'")."""
    if not source.subject.strip() and not source.body.strip():
        return {}  # both empty: the shipped template for the stage is used
    errors: dict[str, list[str]] = {}
    for name, text in (("subject_template", source.subject), ("body_template", source.body)):
        if not text.strip():
            errors[name] = ["needed when the other part of the template is set"]
    for problem in validate_template(source):
        name = "subject_template" if problem.field == "subject" else "body_template"
        errors.setdefault(name, []).append(f"line {problem.line}: {problem.message}" if problem.line
                                           else problem.message)
    return {k: "; ".join(v) for k, v in errors.items()}


def save_stage(session: Session, tenant: Tenant, policy: DunningPolicy, stage: DunningStage | None,
               data: StageInput, actor: str) -> DunningStage | None:
    """Create (stage None) or update a stage if the whole policy stays valid; errors go into ``data``."""
    if not data.ok:
        return None
    if stage is not None:
        data.values["key"] = stage.key  # keys are part of exactly-once keys: never renamed
    others = [s for s in primary_stages(policy) if s is not stage]
    if any(s.key == data.values["key"] for s in others):
        data.errors["key"] = f"another stage already uses the key {data.values['key']!r}"
        return None
    before = _stage_dict(stage) if stage is not None else None
    # Validate a detached copy first, so a refused edit never touches the stored stage.
    trial = DunningStage(tenant_id=tenant.id, policy_id=policy.id, language="en",
                         **{name: data.values[name] for name in FIELDS})
    problems = _policy_problems(policy, sorted([*others, trial], key=lambda s: s.offset_days))
    if problems:
        for message in problems:
            target = "offset_days" if "offset" in message else "key" if "key" in message else "__all__"
            data.errors.setdefault(target, message)
        return None
    candidate = stage or DunningStage(tenant_id=tenant.id, policy_id=policy.id, language="en")
    for name in FIELDS:
        setattr(candidate, name, data.values[name])
    if stage is None:
        policy.stages.append(candidate)
    for position, row in enumerate(sorted(primary_stages(policy), key=lambda s: s.offset_days)):
        row.position = position
    audit_change(session, tenant, actor, "dunning.stage_saved", candidate.key, before, _stage_dict(candidate))
    session.flush()
    return candidate


def _policy_problems(policy: DunningPolicy, stages: list[DunningStage]) -> list[str]:
    try:
        engine = Policy(policy_id=str(policy.id), name=policy.name, stages=tuple(to_stage(s) for s in stages))
    except PolicyError as exc:
        return exc.problems
    except ValueError as exc:
        return [str(exc)]
    return validate_policy(engine)


def delete_stage(session: Session, tenant: Tenant, policy: DunningPolicy, stage: DunningStage,
                 actor: str) -> str | None:
    """Remove a stage (a policy keeps at least one); returns an error message or None."""
    if len(primary_stages(policy)) <= 1:
        return "a policy needs at least one stage"
    for variant in language_variants(policy, stage.key).values():
        policy.stages.remove(variant)
    policy.stages.remove(stage)
    for position, row in enumerate(primary_stages(policy)):
        row.position = position
    audit_change(session, tenant, actor, "dunning.stage_deleted", stage.key, _stage_dict(stage), None)
    session.flush()
    return None


def move_stage(session: Session, tenant: Tenant, policy: DunningPolicy, stage: DunningStage, direction: str,
               actor: str) -> None:
    """Swap a stage with its neighbour. Stages fire in offset order, so the two swap their offsets too:
    the content moves, the timetable stays."""
    ordered = primary_stages(policy)
    i = ordered.index(stage)
    j = i - 1 if direction == "up" else i + 1
    if not 0 <= j < len(ordered):
        return
    other = ordered[j]
    stage.offset_days, other.offset_days = other.offset_days, stage.offset_days
    stage.position, other.position = other.position, stage.position
    audit_change(session, tenant, actor, "dunning.stage_moved", stage.key, None, {"direction": direction})
    session.flush()


def set_enabled(session: Session, tenant: Tenant, policy: DunningPolicy, enabled: bool, actor: str) -> None:
    """Switch a policy's reminder sequence on or off."""
    before = {"enabled": policy.enabled}
    policy.enabled = enabled
    audit_change(session, tenant, actor, "dunning.policy_enabled" if enabled else "dunning.policy_disabled",
           str(policy.id), before, {"enabled": enabled})
    session.flush()


def template_preview(session: Session, tenant: Tenant, source: TemplateSource, stage_key: str, tone: str,
                     invoice_id: int | None, today: date) -> dict[str, Any]:
    """Render a template as the customer would see it, on one of the tenant's open invoices (sample data
    when there is none); template problems come back with their line instead."""
    problems = validate_template(source)
    if problems:
        return {"ok": False, "problems": [{"field": p.field, "line": p.line, "message": p.message}
                                          for p in problems]}
    context, label = _context(session, tenant, stage_key, tone, invoice_id, today)
    try:
        rendered = render(source, context)
    except TemplateError as exc:
        return {"ok": False, "problems": [{"field": "body", "line": getattr(exc, "lineno", None),
                                           "message": str(exc)}]}
    return {"ok": True, "subject": rendered.subject, "body": rendered.body, "invoice": label, "problems": []}


def _context(session: Session, tenant: Tenant, stage_key: str, tone: str, invoice_id: int | None,
             today: date) -> tuple[dict[str, Any], str]:
    query = (select(Invoice, Customer.name).join(Customer, Customer.id == Invoice.customer_id)
             .where(Invoice.tenant_id == tenant.id, Invoice.status == "open", Invoice.amount_due > 0))
    if invoice_id is not None:
        query = query.where(Invoice.id == invoice_id)
    row = session.execute(query.order_by(Invoice.due_date).limit(1)).first()
    if row is None:
        return sample_context(), "sample data (no open invoice)"
    inv, customer_name = row
    tone_value = Tone(tone) if tone in {t.value for t in Tone} else Tone.FRIENDLY
    line = ActionLine(inv.remote_id, inv.number, stage_key or "preview", tone_value, inv.amount_due, inv.currency,
                      inv.due_date, (today - inv.due_date).days, inv.online_url, "")
    action = ReminderAction(customer_id="", channel=Channel.EMAIL, stage_key=stage_key or "preview",
                            tone=tone_value, template=stage_key, language="en", send_at=_midday(today),
                            recipients=(), lines=(line,), reason="", needs_approval=False, exactly_once_keys=())
    context = reminder_context(action, customer_name=customer_name, company=Company(tenant.name),
                               unsubscribe_url="https://example.invalid/unsubscribe/preview", today=today)
    return context, f"{inv.number} ({customer_name})"


def _midday(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def open_invoices(session: Session, tenant: Tenant, limit: int = 25) -> list[tuple[int, str]]:
    """(id, label) of open invoices to preview templates on, oldest due first."""
    rows = session.execute(select(Invoice.id, Invoice.number, Customer.name)
                           .join(Customer, Customer.id == Invoice.customer_id)
                           .where(Invoice.tenant_id == tenant.id, Invoice.status == "open", Invoice.amount_due > 0)
                           .order_by(Invoice.due_date).limit(limit)).all()
    return [(i, f"{number} · {name}") for i, number, name in rows]


def _stage_dict(stage: DunningStage | None) -> dict[str, Any] | None:
    if stage is None:
        return None
    out = {name: getattr(stage, name) for name in FIELDS}
    out["min_amount"] = str(stage.min_amount) if stage.min_amount is not None else None
    return out


def _copied_fields(row: DunningStage) -> dict[str, Any]:
    """A stage's editable fields for a new row copied from it (its own list of risk bands)."""
    return {name: (list(row.risk_bands or []) if name == "risk_bands" else getattr(row, name)) for name in FIELDS}


def audit_change(session: Session, tenant: Tenant, actor: str, action: str, object_id: str,
                 before: dict[str, Any] | None, after: dict[str, Any] | None,
                 object_type: str = "dunning_stage") -> None:
    """The audit record of a change made on the settings page."""
    session.add(AuditLog(tenant_id=tenant.id, actor=actor, action=action, object_type=object_type,
                         object_id=object_id, before=before, after=after, reason="settings page"))


def parse_options(form: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Tenant-wide sending settings from the form (stored in the default policy's options), with errors."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    zone = str(form.get("timezone", "")).strip() or "Europe/London"
    try:
        ZoneInfo(zone)
        values["timezone"] = zone
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = f"unknown timezone {zone!r} (use an IANA name such as Europe/London)"
    for name, low, high in (("send_hour", 0, 23), ("frequency_cap", 1, 50), ("frequency_window_days", 1, 60)):
        raw = str(form.get(name, "")).strip()
        if raw.isdecimal() and low <= int(raw) <= high:
            values[name] = int(raw)
        else:
            errors[name] = f"a whole number from {low} to {high}"
    for name in ("quiet_start", "quiet_end"):
        try:
            values[name] = time.fromisoformat(str(form.get(name, "")).strip()).strftime("%H:%M")
        except ValueError:
            errors[name] = "a time such as 20:00"
    values["business_days_only"] = str(form.get("business_days_only", "")).lower() in ("1", "on", "true")
    pack = str(form.get("statutory_pack", "")).strip()
    if pack in ("", "uk", "eu"):
        values["statutory_pack"] = pack or None
    else:
        errors["statutory_pack"] = "none, uk or eu"
    if str(form.get("holiday_default", "")).lower() in ("1", "on", "true"):
        # The default (the platform's country, else the timezone's) follows the tenant: stored as None, so a
        # save of the other settings does not freeze today's default into an admin's choice.
        values["holiday_country"] = values["holiday_subdivision"] = None
    elif "holiday_country" in form:  # a form without the fields keeps the stored (or default) region
        values["holiday_country"] = str(form.get("holiday_country", "")).strip().upper()
        values["holiday_subdivision"] = str(form.get("holiday_subdivision", "")).strip().upper()
        problem = region_error(values["holiday_country"] or None, values["holiday_subdivision"] or None)
        if problem is not None:
            errors[problem[0]] = problem[1]
    values["reference_rates"], rate_error = _parse_rates(str(form.get("reference_rates", "")))
    if rate_error:
        errors["reference_rates"] = rate_error
    return values, errors


def _parse_rates(text: str) -> tuple[list[list[str]], str | None]:
    rates: list[list[str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            day, rate = line.split()
            rates.append([date.fromisoformat(day).isoformat(), str(Decimal(rate))])
        except (ValueError, InvalidOperation):
            return [], f"line {number}: write 'YYYY-MM-DD rate', e.g. 2026-07-01 4.00"
    return sorted(rates), None


def save_options(session: Session, tenant: Tenant, policy: DunningPolicy, form: Mapping[str, Any],
                 actor: str) -> dict[str, str]:
    """Store the sending settings if they are all valid; returns the errors by field (empty when saved)."""
    values, errors = parse_options(form)
    if errors:
        return errors
    before = dict(policy.options or {})
    policy.options = {**before, **values}
    audit_change(session, tenant, actor, "dunning.settings_saved", str(policy.id), before, policy.options)
    session.flush()
    return {}


# --- policies: create, rename, delete, assign to customers ---------------------------------------------------


def parse_policy_form(session: Session, tenant: Tenant, form: Mapping[str, Any],
                      policy: DunningPolicy | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Name (unique per tenant) and language of a policy from the form, with errors by field."""
    name = str(form.get("name", "")).strip()
    errors: dict[str, str] = {}
    if not name or len(name) > 100:
        errors["name"] = "a name of 1 to 100 characters"
    else:
        clash = session.scalar(select(DunningPolicy.id).where(DunningPolicy.tenant_id == tenant.id,
                                                              DunningPolicy.name == name))
        if clash is not None and (policy is None or clash != policy.id):
            errors["name"] = f"another policy is already called {name!r}"
    language = str(form.get("language", "") or (policy_language(policy) if policy else PRIMARY_LANGUAGE))
    if language not in LANGUAGES:
        errors["language"] = f"choose one of {', '.join(LANGUAGES)}"
    return {"name": name, "language": language}, errors


def create_policy(session: Session, tenant: Tenant, default: DunningPolicy, values: dict[str, Any],
                  actor: str) -> DunningPolicy:
    """A new policy, assigned to nobody yet, starting as a copy of the default policy's stages and variants."""
    policy = DunningPolicy(tenant_id=tenant.id, name=values["name"], enabled=True, is_default=False,
                           segment={"customers": []}, options={"language": values["language"]})
    for row in sorted(default.stages, key=lambda s: (s.position, s.language)):
        policy.stages.append(DunningStage(
            tenant_id=tenant.id, language=row.language or PRIMARY_LANGUAGE, position=row.position,
            **_copied_fields(row)))
    session.add(policy)
    session.flush()
    audit_change(session, tenant, actor, "dunning.policy_created", str(policy.id), None, values, "dunning_policy")
    return policy


def update_policy(session: Session, tenant: Tenant, policy: DunningPolicy, values: dict[str, Any],
                  actor: str) -> None:
    """Rename a policy and set the language it writes in."""
    before = {"name": policy.name, "language": policy_language(policy)}
    policy.name = values["name"]
    policy.options = {**(policy.options or {}), "language": values["language"]}
    audit_change(session, tenant, actor, "dunning.policy_updated", str(policy.id), before, values, "dunning_policy")
    session.flush()


def delete_policy(session: Session, tenant: Tenant, policy: DunningPolicy, actor: str) -> str | None:
    """Delete a policy (never the default: its customers fall back to it); returns an error or None."""
    if policy.is_default:
        return "the default policy cannot be deleted"
    audit_change(session, tenant, actor, "dunning.policy_deleted", str(policy.id),
           {"name": policy.name, "segment": policy.segment}, None, "dunning_policy")
    session.delete(policy)
    session.flush()
    return None


# --- per-language template variants ---------------------------------------------------------------------------


def save_variant(session: Session, tenant: Tenant, policy: DunningPolicy, stage: DunningStage, language: str,
                 source: TemplateSource, actor: str) -> dict[str, str]:
    """Store a stage's template in another language (both parts empty removes the variant); returns errors
    by field, validated like the English template."""
    if language not in LANGUAGES or language == PRIMARY_LANGUAGE:
        return {"language": f"choose one of {', '.join(lang for lang in LANGUAGES if lang != PRIMARY_LANGUAGE)}"}
    errors = template_errors(source)
    if errors:
        return errors
    variant = language_variants(policy, stage.key).get(language)
    before = ({"subject_template": variant.subject_template, "body_template": variant.body_template}
              if variant else None)
    if not source.subject.strip() and not source.body.strip():
        if variant is not None:
            policy.stages.remove(variant)
        after = None
    else:
        if variant is None:
            # The schedule columns mirror the English row; only subject and body are read from a variant.
            variant = DunningStage(tenant_id=tenant.id, language=language, position=stage.position,
                                   **_copied_fields(stage))
            policy.stages.append(variant)
        variant.subject_template = source.subject
        variant.body_template = source.body
        after = {"subject_template": source.subject, "body_template": source.body}
    audit_change(session, tenant, actor, "dunning.template_variant_saved", f"{stage.key}:{language}", before, after)
    session.flush()
    return {}
