"""Recording a promise to pay or a dispute against an open invoice, and holding a customer's chasing: worklist
forms and a JSON API."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, abort, flash, g, jsonify, redirect, request, url_for

from addon.extensions import get_db
from addon.models import Role, Tenant
from addon.services import collections, dunning_holds
from addon.services.dunning_policies import tenant_today
from addon.web.dashboard import render_worklist
from addon.web.paging import PagingError, api_slice, paged_json
from addon.web.session import tenant_view
from jobs.scoring import request_scoring

bp = Blueprint("collections", __name__)


def _actor() -> str:
    return f"user:{g.membership.user_id}"


def _date(value: object) -> date:
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise collections.CollectionsError(f"promised_on must be an ISO date (YYYY-MM-DD), not {value!r}") from None


def _apply(tenant: Tenant, invoice_id: int, what: str, action: str, fields: dict[str, Any]) -> Any:
    """Run one collections action; the invoice on success, else a CollectionsError."""
    session = get_db().session
    note = (str(fields.get("note") or fields.get("reason") or "").strip() or None)
    if what == "promise" and action == "record":
        inv = collections.record_promise(session, tenant, invoice_id, _date(fields.get("promised_on")),
                                         tenant_today(session, tenant), _actor(), note)
    elif what == "promise":
        inv = collections.clear_promise(session, tenant, invoice_id, _actor(), note)
    elif action == "record":
        inv = collections.record_dispute(session, tenant, invoice_id, tenant_today(session, tenant), _actor(), note)
    else:
        inv = collections.resolve_dispute(session, tenant, invoice_id, tenant_today(session, tenant), _actor(), note)
    # A relevant change to the invoice: re-score the tenant (coalesced with any run already queued).
    # Committed first, so the job reads what was just recorded.
    session.commit()
    request_scoring(tenant.id)
    return inv


@bp.post("/tenants/<int:tenant_id>/invoices/<int:invoice_id>/<any(promise, dispute):what>")
@tenant_view(Role.ADMIN)
def form(tenant: Tenant, invoice_id: int, what: str) -> Any:
    action = "clear" if request.form.get("action") in ("clear", "resolve") else "record"
    try:
        inv = _apply(tenant, invoice_id, what, action, request.form.to_dict())
    except collections.InvoiceNotFound:
        abort(404)
    except collections.CollectionsError as exc:
        # The worklist again, the reason and what was typed on the invoice's row (nothing was recorded).
        return render_worklist(tenant, 422, {"invoice_id": invoice_id, "what": what, "message": f"Not recorded: {exc}",
                                             "promised_on": request.form.get("promised_on", ""),
                                             "reason": request.form.get("reason", "")})
    else:
        done = {("promise", "record"): f"Promise to pay by {inv.promised_on} recorded",
                ("promise", "clear"): "Promise to pay withdrawn", ("dispute", "record"): "Dispute recorded",
                ("dispute", "clear"): "Dispute resolved"}[(what, action)]
        flash(f"{inv.number}: {done}.")
    page = request.args.get("page", "")  # back to the worklist page the form was on
    return redirect(url_for("dashboard.worklist_page", tenant_id=tenant.id, page=page if page.isdecimal() else None))


@bp.route("/api/tenants/<int:tenant_id>/invoices/<int:invoice_id>/<any(promise, dispute):what>",
          methods=["POST", "DELETE"])
@tenant_view(Role.ADMIN)
def api(tenant: Tenant, invoice_id: int, what: str) -> Any:
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        return jsonify({"error": "expected a JSON object"}), 400
    try:
        inv = _apply(tenant, invoice_id, what, "record" if request.method == "POST" else "clear", body)
    except collections.InvoiceNotFound as exc:
        return jsonify({"error": str(exc)}), 404
    except collections.CollectionsError as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify(collections.invoice_state(inv))


# Holding a customer's chasing (addon/services/dunning_holds.py): from the worklist's rows, and as JSON.

API_HOLDS_LIMIT, API_HOLDS_MAX_LIMIT = 200, 1000


def _until(value: object) -> date | None:
    text = str(value or "").strip()
    if not text:
        return None  # no end date: held until someone lifts it
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise dunning_holds.HoldError(f"until must be an ISO date (YYYY-MM-DD) or empty, not {value!r}") from None


def _hold_action(tenant: Tenant, customer_id: int, lift: bool, fields: dict[str, Any]) -> Any:
    """Set or lift a customer's hold; the (customer, hold) afterwards, else a HoldError."""
    session = get_db().session
    today = tenant_today(session, tenant)
    if lift:
        note = str(fields.get("note") or "").strip() or None
        dunning_holds.lift_hold(session, tenant, customer_id, today, _actor(), note)
    else:
        reason = fields.get("reason")
        dunning_holds.set_hold(session, tenant, customer_id, None if reason is None else str(reason),
                               _until(fields.get("until")), today, datetime.now(UTC), _actor())
    return dunning_holds.customer_hold(session, tenant, customer_id), today


@bp.post("/tenants/<int:tenant_id>/customers/<int:customer_id>/hold")
@tenant_view(Role.ADMIN)
def hold_form(tenant: Tenant, customer_id: int) -> Any:
    lift = request.form.get("action") == "lift"
    row = request.form.get("row", "")  # the worklist row the form was on: a refusal is shown there
    try:
        (customer, hold), today = _hold_action(tenant, customer_id, lift, request.form.to_dict())
    except dunning_holds.CustomerNotFound:
        abort(404)
    except dunning_holds.HoldError as exc:
        return render_worklist(tenant, 422, {"invoice_id": int(row) if row.isdecimal() else None, "what": "hold",
                                             "message": f"Not held: {exc}", "reason": request.form.get("reason", ""),
                                             "until": request.form.get("until", "")})
    state = dunning_holds.hold_state(hold, today)
    flash(f"{customer.name}: on hold, no reminders ({state['note']})." if state and not lift
          else f"{customer.name}: hold lifted, chasing resumes at the next run.")
    page = request.args.get("page", "")
    return redirect(url_for("dashboard.worklist_page", tenant_id=tenant.id, page=page if page.isdecimal() else None))


@bp.route("/api/tenants/<int:tenant_id>/customers/<int:customer_id>/hold", methods=["GET", "POST", "DELETE"])
@tenant_view()
def hold_api(tenant: Tenant, customer_id: int) -> Any:
    if request.method != "GET" and g.membership.role is not Role.ADMIN:
        abort(403)
    body = (request.get_json(silent=True) or {}) if request.method != "GET" else {}
    if not isinstance(body, dict):
        return jsonify({"error": "expected a JSON object"}), 400
    try:
        if request.method == "GET":
            customer, hold = dunning_holds.customer_hold(get_db().session, tenant, customer_id)
            today = tenant_today(get_db().session, tenant)
        else:
            (customer, hold), today = _hold_action(tenant, customer_id, request.method == "DELETE", body)
    except dunning_holds.CustomerNotFound as exc:
        return jsonify({"error": str(exc)}), 404
    except dunning_holds.HoldError as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify(dunning_holds.customer_state(get_db().session, customer, hold, today))


@bp.get("/api/tenants/<int:tenant_id>/holds")
@tenant_view()
def holds_api(tenant: Tenant) -> Any:
    try:
        part = api_slice(request.args, API_HOLDS_LIMIT, API_HOLDS_MAX_LIMIT)
    except PagingError as exc:
        return jsonify({"error": str(exc)}), 400
    session = get_db().session
    rows, total = dunning_holds.holds_in_force(session, tenant, tenant_today(session, tenant), part.limit, part.offset)
    return paged_json(rows, total, part)
