"""Reconciliation page: upload a statement, save CSV mappings, and work the exception queue."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from redis.exceptions import RedisError
from werkzeug.wrappers import Response

from addon.domain.statements import StatementError
from addon.extensions import get_db, get_redis
from addon.models import BankLine, Match, Role, Tenant
from addon.services import reconciliation as rec
from addon.services.connections import connector_for
from addon.web.paging import ApiSlice, PagingError, api_page, cursor_json, cursor_scope, paged_json, paging
from addon.web.session import current_user, tenant_view
from connectors.base import AccountingConnector
from connectors.errors import ConnectorError

logger = logging.getLogger(__name__)
bp = Blueprint("reconciliation", __name__)

MAX_STATEMENT_BYTES = 20 * 1024 * 1024


def _user_id() -> int | None:
    user = current_user()
    return user.id if user else None


def _connector(tenant: Tenant) -> AccountingConnector:
    return connector_for(tenant, engine=get_db().engine, redis=get_redis(),  # type: ignore[arg-type]
                         config=current_app.config)


QUEUE_PAGE_SIZE = 100  # lines of the exception queue shown at once
API_QUEUE_LIMIT, API_MAX_LIMIT = 200, 1000  # without ?limit= the API answers what it did before paging
SEARCH_RESULTS, SEARCH_MAX_CHARS = 20, 100


def _queue_page() -> str | None:
    """The queue page a form was sent from (its action carries ``?page=``), to go back to."""
    page = request.args.get("page", "")
    return page if page.isdecimal() and len(page) < 10 else None


def _back(tenant: Tenant) -> Response:
    return redirect(url_for("reconciliation.queue", tenant_id=tenant.id, page=_queue_page()))


def _page(tenant: Tenant, status: int = 200, error: str | None = None, apply: dict[str, Any] | None = None) -> Any:
    """The page; ``apply`` is a refused apply form ({line_id, rows, error}) shown again on its line as typed."""
    session = get_db().session
    pager = paging(request.args.get("page"), QUEUE_PAGE_SIZE, rec.exception_count(session, tenant))
    queue = rec.exception_queue(session, tenant, pager.size, pager.offset)
    if apply is not None and not any(e["line"].id == apply["line_id"] for e in queue):
        error, apply = apply["error"], None  # the line left the queue meanwhile (another user decided it)
    # The invoice fields offer the oldest due open invoices until the admin types; then the page asks
    # GET /api/.../reconciliation/invoices?q= (static/reconciliation.js). Any open invoice can be typed.
    return render_template("reconciliation/queue.html", tenant=tenant, error=error, apply=apply or {},
                           queue=queue, queue_total=pager.total, pager=pager, pager_endpoint="reconciliation.queue",
                           statements=rec.recent_statements(session, tenant),
                           mappings=rec.mapping_names(tenant), saved=rec.saved_mappings(tenant),
                           invoices=rec.find_open_invoices(session, tenant, limit=SEARCH_RESULTS)), status


@bp.get("/tenants/<int:tenant_id>/reconciliation")
@tenant_view()
def queue(tenant: Tenant) -> Any:
    return _page(tenant)


@bp.get("/api/tenants/<int:tenant_id>/reconciliation/queue")
@tenant_view()
def api_queue(tenant: Tenant) -> Any:
    session = get_db().session
    scope = f"reconciliation-queue:{tenant.id}"
    try:
        part = api_page(request.args, API_QUEUE_LIMIT, API_MAX_LIMIT)
        after = None if isinstance(part, ApiSlice) else _queue_key(cursor_scope(part, scope))
    except PagingError as exc:
        return jsonify({"error": str(exc)}), 400
    if isinstance(part, ApiSlice):
        entries = rec.exception_queue(session, tenant, part.limit, part.offset)
        rows = [_entry_json(e["line"], e["match"]) for e in entries]
        return paged_json(rows, rec.exception_count(session, tenant), part)
    entries, last = rec.exception_queue_after(session, tenant, part.limit, after)
    return cursor_json([_entry_json(e["line"], e["match"]) for e in entries], rec.exception_count(session, tenant),
                       part, scope, None if last is None else {"after": [last[0].isoformat(), last[1]]})


def _queue_key(state: dict[str, Any] | None) -> tuple[date, int] | None:
    """The (booking date, line id) a queue cursor resumes after; the token is signed, so a malformed one
    is a server's own old format or a bug, and is refused all the same."""
    if state is None:
        return None
    after = state.get("after")
    if set(state) == {"after"} and isinstance(after, list) and len(after) == 2 and type(after[1]) is int:
        try:
            return date.fromisoformat(after[0]), after[1]
        except (TypeError, ValueError):
            pass
    raise PagingError("cursor is not valid for the reconciliation queue: "
                      "start again from the first page with ?paging=cursor")


@bp.get("/api/tenants/<int:tenant_id>/reconciliation/invoices")
@tenant_view()
def api_invoice_search(tenant: Tenant) -> Any:
    """Open invoices whose number or customer contains ``?q=`` (at most 20), in ``?currency=`` if given."""
    text = request.args.get("q", "")
    if len(text) > SEARCH_MAX_CHARS:
        return jsonify({"error": f"q is at most {SEARCH_MAX_CHARS} characters"}), 400
    currency = request.args.get("currency", "").strip().upper() or None
    return jsonify(rec.find_open_invoices(get_db().session, tenant, text, currency, SEARCH_RESULTS))


def _entry_json(line: BankLine, match: Match) -> dict[str, Any]:
    return {"line_id": line.id, "date": line.booking_date.isoformat(), "amount": str(line.amount),
            "currency": line.currency, "counterparty": line.counterparty_name,
            "reference": line.structured_reference or line.remittance_text, "decision": match.decision,
            "confidence": str(match.confidence), "explanation": match.explanation,
            "suggestions": match.suggestions[:3]}


@bp.post("/tenants/<int:tenant_id>/reconciliation/statements")
@tenant_view(role=Role.ADMIN)
def upload(tenant: Tenant) -> Any:
    upload = request.files.get("statement")
    if upload is None or not upload.filename:
        return _page(tenant, 400, "Choose a statement file to upload.")
    data = upload.read(MAX_STATEMENT_BYTES + 1)
    if len(data) > MAX_STATEMENT_BYTES:
        return _page(tenant, 400, "The file is larger than 20 MB.")
    try:
        summary = rec.import_statement(get_db().session, tenant, data, upload.filename,
                                       request.form.get("mapping") or None)
    except StatementError as exc:
        return _page(tenant, 400, f"{upload.filename} was rejected: {exc.format} statement, at {exc.location}: "
                                  f"{exc.reason}. Nothing was imported.")
    except ValueError as exc:  # an unknown or invalid CSV mapping
        return _page(tenant, 400, str(exc))
    if summary["duplicate_file"]:
        flash(f"{upload.filename} was imported before; nothing new to import.")
        return _back(tenant)
    # The worker must see the new rows, so they are committed before the job is queued.
    get_db().session.commit()
    flash(f"Imported {summary['imported']} lines from {upload.filename} "
          f"({summary['duplicates']} already imported, {summary['ignored']} outgoing).")
    _queue_reconcile(tenant, summary["statement_id"])
    return _back(tenant)


def _queue_reconcile(tenant: Tenant, statement_id: int) -> None:
    from jobs.reconcile import enqueue_reconcile

    try:
        enqueue_reconcile(get_redis(), tenant.id, statement_id)
    except RedisError:
        logger.exception("could not queue reconciliation of statement %s", statement_id)
        flash("Matching could not be queued right now; it will run with the next reconciliation.")


@bp.post("/tenants/<int:tenant_id>/reconciliation/mappings")
@tenant_view(role=Role.ADMIN)
def save_mapping(tenant: Tenant) -> Any:
    try:
        rec.save_mapping(tenant, request.form.get("name", ""), request.form.get("mapping", ""))
    except (ValueError, TypeError) as exc:
        return _page(tenant, 400, f"Mapping not saved: {exc}")
    flash(f"Saved CSV mapping {request.form['name'].strip()}.")
    return _back(tenant)


@bp.post("/tenants/<int:tenant_id>/reconciliation/lines/<int:line_id>/confirm")
@tenant_view(role=Role.ADMIN)
def confirm(tenant: Tenant, line_id: int) -> Any:
    raw = request.form.get("suggestion", "")
    try:
        index = int(raw) if raw.isdecimal() else -1  # -1: "no such suggestion", never Python's int() message
        match = rec.confirm_suggestion(get_db().session, tenant, line_id, index, user_id=_user_id())
    except rec.QueueActionError as exc:
        flash(f"Not confirmed: {exc}")
        return _back(tenant)
    return _post(tenant, match)


@bp.post("/tenants/<int:tenant_id>/reconciliation/lines/<int:line_id>/change")
@tenant_view(role=Role.ADMIN)
def change(tenant: Tenant, line_id: int) -> Any:
    rows = _apply_rows()
    try:
        match = rec.change_match(get_db().session, tenant, line_id,
                                 [(n, a) for n, a in rows if n.strip() or a.strip()], user_id=_user_id())
    except (ValueError, rec.QueueActionError) as exc:
        # Shown again on its line with what was typed, the reason next to it (nothing was changed).
        return _page(tenant, 422, apply={"line_id": line_id, "rows": rows, "error": f"Not changed: {exc}"})
    return _post(tenant, match)


def _apply_rows() -> list[tuple[str, str]]:
    """The (invoice number, amount) rows of the apply form as typed (blank rows included)."""
    return list(zip(request.form.getlist("invoice"), request.form.getlist("amount"), strict=False))


def _post(tenant: Tenant, match: Match) -> Response:
    session = get_db().session
    try:
        outcome = rec.post_confirmed(session, tenant, _connector(tenant), match, user_id=_user_id(),
                                     now=datetime.now(UTC), checkpoint=session.commit)
    except ConnectorError as exc:
        # The confirmation is kept; the reconcile job posts confirmed matches when the platform answers.
        logger.warning("posting match %s failed: %s", match.id, exc)
        line = session.get(BankLine, match.bank_line_id)
        session.commit()
        if line is not None:
            _queue_reconcile(tenant, line.statement_id)
        flash(f"Confirmed; the platform did not answer ({exc}), posting will be retried.")
        return _back(tenant)
    if outcome == "refused":
        flash(f"Not posted: {match.explanation.rsplit('not posted: ', 1)[-1]}")
    else:
        flash("Payment posted to the platform.")
    return _back(tenant)


@bp.post("/tenants/<int:tenant_id>/reconciliation/lines/<int:line_id>/reject")
@tenant_view(role=Role.ADMIN)
def reject(tenant: Tenant, line_id: int) -> Any:
    try:
        rec.reject_match(get_db().session, tenant, line_id, user_id=_user_id())
    except rec.QueueActionError as exc:
        flash(f"Not rejected: {exc}")
        return _back(tenant)
    flash("Line rejected: it stays unmatched and nothing is posted.")
    return _back(tenant)
