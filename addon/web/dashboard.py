"""Dashboard (aging, DSO, CEI, forecast) and the collections worklist, as pages and JSON."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, request

from addon.extensions import get_db, get_redis
from addon.models import Tenant
from addon.services.dashboard import (
    open_invoice_count,
    scored_invoices,
    scored_invoices_walk,
    tenant_dashboard,
    worklist,
    worklist_walk,
)
from addon.services.dunning_policies import tenant_today
from addon.web.paging import ApiSlice, PagingError, api_page, paged_json, paging, snapshot_json
from addon.web.session import tenant_view

bp = Blueprint("dashboard", __name__)


@bp.get("/tenants/<int:tenant_id>/dashboard")
@tenant_view()
def page(tenant: Tenant) -> Any:
    today = tenant_today(get_db().session, tenant)  # the tenant's date, not the server's: aging turns at its midnight
    data = tenant_dashboard(get_db().session, tenant, today, redis=get_redis())
    return render_template("dashboard/dashboard.html", tenant=tenant, data=data,
                           work=worklist(get_db().session, tenant, today, limit=15))


PAGE_SIZE = 100  # rows of the worklist and the risk page shown at once


@bp.get("/tenants/<int:tenant_id>/worklist")
@tenant_view()
def worklist_page(tenant: Tenant) -> Any:
    return render_worklist(tenant)


def render_worklist(tenant: Tenant, status: int = 200, refused: dict[str, Any] | None = None) -> Any:
    """The worklist page; ``refused`` is a row form that was not recorded ({invoice_id, what, message, and
    what was typed}), shown again on its row."""
    session = get_db().session
    pager = paging(request.args.get("page"), PAGE_SIZE, open_invoice_count(session, tenant))
    # pager_endpoint: a refused form is rendered by its POST view, whose own URL the page links cannot use.
    return render_template("dashboard/worklist.html", tenant=tenant, pager=pager, refused=refused or {},
                           pager_endpoint="dashboard.worklist_page",
                           work=worklist(session, tenant, tenant_today(session, tenant), pager.size,
                                         pager.offset)), status


@bp.get("/api/tenants/<int:tenant_id>/dashboard")
@tenant_view()
def api(tenant: Tenant) -> Any:
    return jsonify(tenant_dashboard(get_db().session, tenant, tenant_today(get_db().session, tenant),
                                    redis=get_redis()))


# The JSON lists: without ?limit= the first page is what they returned before they had paging.
API_WORKLIST_LIMIT, API_INVOICES_LIMIT, API_MAX_LIMIT = 200, 500, 1000


@bp.get("/api/tenants/<int:tenant_id>/worklist")
@tenant_view()
def api_worklist(tenant: Tenant) -> Any:
    session = get_db().session
    try:
        part = api_page(request.args, API_WORKLIST_LIMIT, API_MAX_LIMIT)
    except PagingError as exc:
        return jsonify({"error": str(exc)}), 400
    today = tenant_today(session, tenant)
    if isinstance(part, ApiSlice):
        rows = worklist(session, tenant, today, part.limit, part.offset)
        return paged_json(rows, open_invoice_count(session, tenant), part)
    return snapshot_json(part, f"worklist:{tenant.id}", open_invoice_count(session, tenant),
                         lambda state: worklist_walk(session, get_redis(), tenant, today, part.limit, state))


@bp.get("/tenants/<int:tenant_id>/invoices")
@tenant_view()
def invoices_page(tenant: Tenant) -> Any:
    session = get_db().session
    pager = paging(request.args.get("page"), PAGE_SIZE, open_invoice_count(session, tenant))
    return render_template("dashboard/invoices.html", tenant=tenant, pager=pager,
                           rows=scored_invoices(session, tenant, pager.size, pager.offset))


@bp.get("/api/tenants/<int:tenant_id>/invoices")
@tenant_view()
def api_invoices(tenant: Tenant) -> Any:
    session = get_db().session
    try:
        part = api_page(request.args, API_INVOICES_LIMIT, API_MAX_LIMIT)
    except PagingError as exc:
        return jsonify({"error": str(exc)}), 400
    if isinstance(part, ApiSlice):
        rows = scored_invoices(session, tenant, part.limit, part.offset)
        return paged_json(rows, open_invoice_count(session, tenant), part)
    return snapshot_json(part, f"invoices:{tenant.id}", open_invoice_count(session, tenant),
                         lambda state: scored_invoices_walk(session, get_redis(), tenant, part.limit, state))
