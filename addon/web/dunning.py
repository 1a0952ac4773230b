"""Dunning settings: policies and stages (admins edit, viewers read), template preview, the dry run
("who gets what tomorrow"), approvals, and the customers' one-click unsubscribe link."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from addon.domain.dunning.timing import upcoming_holidays
from addon.extensions import get_db, get_for_tenant
from addon.mail import VARIABLES, InvalidUnsubscribeTokenError, TemplateSource, UnsubscribeTokens
from addon.models import DunningPolicy, DunningStage, Role, Tenant
from addon.services import dunning, dunning_assignment, dunning_settings
from addon.services.dunning_holidays import PLATFORM_NAMES, SET_BY_ADMIN, region_source, resolve_region
from addon.services.dunning_policies import (
    LANGUAGES,
    PRIMARY_LANGUAGE,
    ensure_default_policy,
    language_variants,
    policy_language,
    primary_stages,
    settings_from_options,
    tenant_today,
)
from addon.web import MAX_ROW_ID
from addon.web.session import tenant_view

bp = Blueprint("dunning", __name__)


@bp.record_once
def _exempt_unsubscribe(state: Any) -> None:
    # RFC 8058 one-click unsubscribe is a POST from the mail client: it cannot carry our CSRF token.
    csrf = state.app.extensions.get("cashline_csrf")
    if csrf is not None:
        csrf.exempt("addon.web.dunning.unsubscribe")


def _actor() -> str:
    return f"user:{g.membership.user_id}"


def _today(tenant: Tenant) -> date:
    return tenant_today(get_db().session, tenant)


def _policy(tenant: Tenant, policy_id: int) -> DunningPolicy:
    return get_for_tenant(get_db().session, DunningPolicy, policy_id, tenant.id) or abort(404)


def _stage(tenant: Tenant, stage_id: int) -> DunningStage:
    stage = get_for_tenant(get_db().session, DunningStage, stage_id, tenant.id) or abort(404)
    if (stage.language or PRIMARY_LANGUAGE) != PRIMARY_LANGUAGE:
        abort(404)  # a language variant is edited through its English stage, never as a stage of its own
    return stage


@bp.get("/tenants/<int:tenant_id>/dunning")
@tenant_view()
def settings(tenant: Tenant) -> Any:
    return _render_settings(tenant, {}, {})


def _selected_policy_id() -> int | None:
    raw = request.args.get("policy", "")
    return int(raw) if raw.isdecimal() else None  # isdigit() would pass "²", which int() refuses


def _back(tenant: Tenant, policy_id: int | None = None) -> Any:
    return redirect(url_for("dunning.settings", tenant_id=tenant.id, policy=policy_id) + (
        f"#policy-{policy_id}" if policy_id else ""))


def _render_settings(tenant: Tenant, form: dict[str, Any], option_errors: dict[str, str], status: int = 200, *,
                     selected_id: int | None = None, policy_form: dict[str, Any] | None = None,
                     policy_errors: dict[str, str] | None = None, error_policy_id: int | None = None) -> Any:
    session = get_db().session
    default = ensure_default_policy(session, tenant)
    tomorrow = _today(tenant) + timedelta(days=1)
    policies = session.scalars(select(DunningPolicy).where(DunningPolicy.tenant_id == tenant.id)
                               .order_by(DunningPolicy.is_default.desc(), DunningPolicy.id)).all()
    wanted = selected_id if selected_id is not None else _selected_policy_id()
    selected = next((p for p in policies if p.id == wanted), default)
    # Names of the customers on some policy only: a tenant has thousands, and the page lists no others
    # (customers are added by typing them; dunning_assignment.resolve_customers checks what was typed).
    names = dunning_assignment.customer_names(
        session, tenant, [c for p in policies for c in (p.segment or {}).get("customers", [])])
    dry_run = dunning.preview(session, tenant, tomorrow, sms_enabled=dunning.sms_configured(current_app.config))
    tasks = dunning.open_tasks(session, tenant, datetime.now(UTC) - timedelta(days=30))
    return render_template("dunning/settings.html", tenant=tenant, policies=policies, selected=selected,
                           stages=primary_stages(selected), primary_stages=primary_stages,
                           variants={s.key: sorted(language_variants(selected, s.key)) for s in selected.stages},
                           languages=LANGUAGES, policy_language=policy_language,
                           customer_names=names, policy_form=policy_form or {}, policy_errors=policy_errors or {},
                           error_policy_id=error_policy_id, tomorrow=tomorrow,
                           dry_run=dry_run[:LISTED_ROWS], dry_run_total=len(dry_run), listed_rows=LISTED_ROWS,
                           holidays=upcoming_holidays(settings_from_options(default.options or {}, tenant.country),
                                                      tomorrow, HOLIDAYS_AHEAD),
                           holiday_source=_holiday_source(tenant, default),
                           platform_name=PLATFORM_NAMES.get(tenant.platform, "the accounting platform"),
                           approvals=dunning.pending_approvals(session, tenant),
                           tasks=tasks[:LISTED_ROWS], tasks_total=len(tasks),
                           options=form or _option_values(tenant, default), option_errors=option_errors,
                           is_admin=g.membership.role is Role.ADMIN), status


HOLIDAYS_AHEAD = 30  # days of public holidays listed next to the dry run
LISTED_ROWS = 100  # dry-run actions and tasks shown on the page; the count says how many there are in all


def _holiday_source(tenant: Tenant, policy: DunningPolicy) -> str:
    timezone = settings_from_options(policy.options or {}).timezone
    return region_source(resolve_region(policy.options or {}, timezone, tenant.country), timezone, tenant.platform)


def _option_values(tenant: Tenant, policy: DunningPolicy) -> dict[str, Any]:
    s = settings_from_options(policy.options or {}, tenant.country)
    region = resolve_region(policy.options or {}, s.timezone, tenant.country)
    return {"timezone": s.timezone, "send_hour": s.send_hour, "quiet_start": s.quiet_start.strftime("%H:%M"),
            "quiet_end": s.quiet_end.strftime("%H:%M"), "business_days_only": s.business_days_only,
            "frequency_cap": s.frequency_cap, "frequency_window_days": s.frequency_window.days,
            "statutory_pack": s.statutory_pack or "",
            "reference_rates": "\n".join(f"{d.isoformat()} {r}" for d, r in s.reference_rates),
            "holiday_country": region.country or "", "holiday_subdivision": region.subdivision or "",
            "holiday_default": region.source != SET_BY_ADMIN}


@bp.post("/tenants/<int:tenant_id>/dunning/options")
@tenant_view(Role.ADMIN)
def save_options(tenant: Tenant) -> Any:
    policy = ensure_default_policy(get_db().session, tenant)
    errors = dunning_settings.save_options(get_db().session, tenant, policy, request.form, _actor())
    if errors:
        form: dict[str, Any] = request.form.to_dict()
        form["business_days_only"] = "business_days_only" in request.form
        form["holiday_default"] = "holiday_default" in request.form
        return _render_settings(tenant, form, errors, 422)
    flash("Sending settings saved.")
    return redirect(url_for("dunning.settings", tenant_id=tenant.id))


@bp.get("/tenants/<int:tenant_id>/dunning/policies/<int:policy_id>/stages/new")
@bp.get("/tenants/<int:tenant_id>/dunning/stages/<int:stage_id>/edit")
@tenant_view(Role.ADMIN)
def stage_form(tenant: Tenant, policy_id: int | None = None, stage_id: int | None = None) -> Any:
    stage = _stage(tenant, stage_id) if stage_id is not None else None
    policy = _policy(tenant, stage.policy_id if stage else policy_id or 0)
    values = {name: getattr(stage, name) for name in dunning_settings.FIELDS} if stage else {
        "key": "", "offset_days": "", "tone": "firm", "channel": "email", "subject_template": "",
        "body_template": "", "min_amount": None, "risk_bands": [], "needs_approval": False,
        "show_statutory": False, "skip_for_reliable": False}
    return _render_form(tenant, policy, stage, values, {})


def _render_form(tenant: Tenant, policy: DunningPolicy, stage: DunningStage | None, values: dict[str, Any],
                 errors: dict[str, str], status: int = 200) -> Any:
    others = [lang for lang in LANGUAGES if lang != PRIMARY_LANGUAGE]
    return render_template("dunning/stage_form.html", tenant=tenant, policy=policy, stage=stage, values=values,
                           errors=errors, variables=VARIABLES, other_languages=others,
                           variants=sorted(language_variants(policy, stage.key)) if stage else [],
                           invoices=dunning_settings.open_invoices(get_db().session, tenant)), status


@bp.post("/tenants/<int:tenant_id>/dunning/policies/<int:policy_id>/stages")
@bp.post("/tenants/<int:tenant_id>/dunning/stages/<int:stage_id>")
@tenant_view(Role.ADMIN)
def save_stage(tenant: Tenant, policy_id: int | None = None, stage_id: int | None = None) -> Any:
    stage = _stage(tenant, stage_id) if stage_id is not None else None
    policy = _policy(tenant, stage.policy_id if stage else policy_id or 0)
    data = dunning_settings.parse_stage_form(request.form, getlist=request.form.getlist)
    saved = dunning_settings.save_stage(get_db().session, tenant, policy, stage, data, _actor())
    if saved is None:
        return _render_form(tenant, policy, stage, {**request.form.to_dict(), **data.values}, data.errors, 422)
    flash(f"Stage {saved.key} saved.")
    return _back(tenant, policy.id)


@bp.post("/tenants/<int:tenant_id>/dunning/stages/<int:stage_id>/delete")
@tenant_view(Role.ADMIN)
def delete_stage(tenant: Tenant, stage_id: int) -> Any:
    stage = _stage(tenant, stage_id)
    error = dunning_settings.delete_stage(get_db().session, tenant, _policy(tenant, stage.policy_id), stage, _actor())
    flash(error or f"Stage {stage.key} deleted.")
    return _back(tenant, stage.policy_id)


@bp.post("/tenants/<int:tenant_id>/dunning/stages/<int:stage_id>/move")
@tenant_view(Role.ADMIN)
def move_stage(tenant: Tenant, stage_id: int) -> Any:
    stage = _stage(tenant, stage_id)
    dunning_settings.move_stage(get_db().session, tenant, _policy(tenant, stage.policy_id), stage,
                                request.form.get("direction", "up"), _actor())
    return _back(tenant, stage.policy_id)


@bp.post("/tenants/<int:tenant_id>/dunning/policies/<int:policy_id>/enabled")
@tenant_view(Role.ADMIN)
def set_enabled(tenant: Tenant, policy_id: int) -> Any:
    enabled = request.form.get("enabled") == "1"
    dunning_settings.set_enabled(get_db().session, tenant, _policy(tenant, policy_id), enabled, _actor())
    flash("Reminders switched on." if enabled else "Reminders switched off: nothing will be sent.")
    return _back(tenant, policy_id)


@bp.post("/tenants/<int:tenant_id>/dunning/policies")
@tenant_view(Role.ADMIN)
def create_policy(tenant: Tenant) -> Any:
    session = get_db().session
    values, errors = dunning_settings.parse_policy_form(session, tenant, request.form, None)
    if errors:
        return _render_settings(tenant, {}, {}, 422, policy_form=values, policy_errors=errors, error_policy_id=0)
    policy = dunning_settings.create_policy(session, tenant, ensure_default_policy(session, tenant), values,
                                            _actor())
    flash(f"Policy {policy.name} created as a copy of the default; assign customers to it below.")
    return _back(tenant, policy.id)


@bp.post("/tenants/<int:tenant_id>/dunning/policies/<int:policy_id>")
@tenant_view(Role.ADMIN)
def update_policy(tenant: Tenant, policy_id: int) -> Any:
    session = get_db().session
    policy = _policy(tenant, policy_id)
    values, errors = dunning_settings.parse_policy_form(session, tenant, request.form, policy)
    if errors:
        return _render_settings(tenant, {}, {}, 422, selected_id=policy.id, policy_form=values,
                                policy_errors=errors, error_policy_id=policy.id)
    dunning_settings.update_policy(session, tenant, policy, values, _actor())
    flash(f"Policy {policy.name} saved.")
    return _back(tenant, policy.id)


@bp.post("/tenants/<int:tenant_id>/dunning/policies/<int:policy_id>/delete")
@tenant_view(Role.ADMIN)
def delete_policy(tenant: Tenant, policy_id: int) -> Any:
    policy = _policy(tenant, policy_id)
    name = policy.name
    error = dunning_settings.delete_policy(get_db().session, tenant, policy, _actor())
    flash(error or f"Policy {name} deleted; its customers fall back to the default policy.")
    return _back(tenant, policy_id if error else None)


@bp.post("/tenants/<int:tenant_id>/dunning/policies/<int:policy_id>/customers")
@tenant_view(Role.ADMIN)
def assign_customers(tenant: Tenant, policy_id: int) -> Any:
    policy = _policy(tenant, policy_id)
    session = get_db().session
    # The ticked customers stay (untick to take one off); the typed ones (a name or an id a line) join them.
    typed = request.form.get("add_customers", "")
    added, problems = dunning_assignment.resolve_customers(session, tenant, typed)
    errors = {"customers": "; ".join(problems)} if problems else dunning_assignment.assign_customers(
        session, tenant, policy, [str(c) for c in request.form.getlist("customers")] + added, _actor())
    if errors:
        return _render_settings(tenant, {}, {}, 422, selected_id=policy.id, policy_errors=errors,
                                error_policy_id=policy.id, policy_form={"add_customers": typed})
    flash(f"Customers of {policy.name} saved.")
    return _back(tenant, policy.id)


@bp.get("/tenants/<int:tenant_id>/dunning/stages/<int:stage_id>/language")
@tenant_view(Role.ADMIN)
def variant_form(tenant: Tenant, stage_id: int) -> Any:
    stage = _stage(tenant, stage_id)
    policy = _policy(tenant, stage.policy_id)
    language = request.args.get("language", "")
    variant = language_variants(policy, stage.key).get(language)
    values = {"language": language, "subject_template": variant.subject_template if variant else "",
              "body_template": variant.body_template if variant else ""}
    errors = {} if language in LANGUAGES and language != PRIMARY_LANGUAGE else {
        "language": "choose a language other than English"}
    return _render_variant(tenant, policy, stage, values, errors)


def _render_variant(tenant: Tenant, policy: DunningPolicy, stage: DunningStage, values: dict[str, Any],
                    errors: dict[str, str], status: int = 200) -> Any:
    return render_template("dunning/variant_form.html", tenant=tenant, policy=policy, stage=stage, values=values,
                           errors=errors, variables=VARIABLES,
                           languages=[lang for lang in LANGUAGES if lang != PRIMARY_LANGUAGE],
                           invoices=dunning_settings.open_invoices(get_db().session, tenant)), status


@bp.post("/tenants/<int:tenant_id>/dunning/stages/<int:stage_id>/language")
@tenant_view(Role.ADMIN)
def save_variant(tenant: Tenant, stage_id: int) -> Any:
    stage = _stage(tenant, stage_id)
    policy = _policy(tenant, stage.policy_id)
    language = str(request.form.get("language", ""))
    source = TemplateSource(str(request.form.get("subject_template", "")),
                            str(request.form.get("body_template", "")).replace("\r\n", "\n"))
    errors = dunning_settings.save_variant(get_db().session, tenant, policy, stage, language, source, _actor())
    if errors:
        values = {"language": language, "subject_template": source.subject, "body_template": source.body}
        return _render_variant(tenant, policy, stage, values, errors, 422)
    flash(f"Stage {stage.key}: {language} template saved.")
    return _back(tenant, policy.id)


# A second click, or a list another admin already worked through: say so instead of "Approved 0".
NOTHING_WAITING = "Nothing was waiting for approval for this customer any more (already decided); nothing changed."


@bp.post("/tenants/<int:tenant_id>/dunning/approvals/<int:customer_id>")
@tenant_view(Role.ADMIN)
def decide(tenant: Tenant, customer_id: int) -> Any:
    session = get_db().session
    if request.form.get("decision") == "approve":
        count = dunning.approve(session, tenant, customer_id, _actor())
        flash(f"Approved {count} reminder line(s); they go out with the next run." if count else NOTHING_WAITING)
    else:
        count = dunning.reject(session, tenant, customer_id, _actor())
        flash(f"Declined {count} reminder line(s); they will not be sent." if count else NOTHING_WAITING)
    return redirect(url_for("dunning.settings", tenant_id=tenant.id))


@bp.post("/api/tenants/<int:tenant_id>/dunning/template-preview")
@tenant_view(Role.ADMIN)
def template_preview(tenant: Tenant) -> Any:
    body = request.get_json(silent=True) or {}
    try:
        invoice_id = _row_id(body.get("invoice_id") if isinstance(body, dict) else "not an object")
    except ValueError:
        # The page's script shows ``problems``; another client gets a 400 it can read.
        return jsonify({"ok": False, "problems": [{"field": "request", "line": None, "message":
                        "expected a JSON object whose invoice_id is an invoice id or empty"}]}), 400
    result = dunning_settings.template_preview(
        get_db().session, tenant, TemplateSource(str(body.get("subject", "")), str(body.get("body", ""))),
        str(body.get("stage", "")), str(body.get("tone", "")), invoice_id, _today(tenant))
    return jsonify(result)


def _row_id(value: object) -> int | None:
    """A posted id, None when empty; ValueError when no row could have it (not a number, or too long)."""
    if value in (None, ""):
        return None
    text = str(value)
    if not text.isdecimal() or int(text) > MAX_ROW_ID:
        raise ValueError(f"not an id: {text!r}")
    return int(text)


@bp.get("/api/tenants/<int:tenant_id>/dunning/preview")
@tenant_view()
def api_preview(tenant: Tenant) -> Any:
    raw = request.args.get("date")
    try:
        day = date.fromisoformat(raw) if raw else _today(tenant) + timedelta(days=1)
    except ValueError:
        return jsonify({"error": "date must be YYYY-MM-DD"}), 400
    actions = dunning.preview(get_db().session, tenant, day, sms_enabled=dunning.sms_configured(current_app.config))
    return jsonify({"date": day.isoformat(), "actions": actions})


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> Any:
    try:
        tenant_key, customer_id = UnsubscribeTokens(current_app.config["SECRET_KEY"]).read(token)
    except InvalidUnsubscribeTokenError:
        abort(404)
    tenant = get_db().session.get(Tenant, int(tenant_key)) if tenant_key.isdigit() else None
    if tenant is None:
        abort(404)
    if request.method == "POST":
        dunning.unsubscribe(get_db().session, tenant, customer_id)
        return render_template("dunning/unsubscribe.html", company=tenant.name, done=True, token=token)
    return render_template("dunning/unsubscribe.html", company=tenant.name, done=False, token=token)
