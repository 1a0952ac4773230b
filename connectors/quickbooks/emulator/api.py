"""``/v3/company/{realmId}/...``: entity reads and writes, query, CDC, preferences and company info.

Every call is authenticated (Bearer), checked against the token's realm, counted by the per-realm
rate limiter, and may carry ``minorversion`` (accepted) and ``requestid`` (a repeat replays the first
successful response instead of acting twice).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from connectors.quickbooks.emulator import banking, entities, faults, query
from connectors.quickbooks.emulator.app import EmulatorState, dumps
from connectors.quickbooks.emulator.store import KINDS, CachedResponse, Entity, QboStore, qbo_time

bp = Blueprint("qbo_api", __name__, url_prefix="/v3/company/<realm_id>")

CDC_LOOKBACK = timedelta(days=30)
CDC_MAX_OBJECTS = 1000
MAX_REQUEST_ID = 50
_PATHS = {kind.lower(): kind for kind in KINDS}


def _state() -> EmulatorState:
    state: EmulatorState = current_app.extensions["qbo"]
    return state


def _fault_response(fault: faults.Fault) -> Response:
    state = _state()
    now = state.store.clock()
    if fault.status == 429 and state.throttle_xml:
        response = Response(fault.to_xml(now), status=429, mimetype="application/xml")
    else:
        response = Response(dumps(fault.to_json(now)), status=fault.status, mimetype="application/json")
    if fault.status == 429:
        response.headers["Retry-After"] = str(g.get("retry_after", 60))
    return response


def _ok(payload: dict[str, Any]) -> Response:
    payload["time"] = _state().store.clock().isoformat(timespec="milliseconds")
    return Response(dumps(payload), status=200, mimetype="application/json")


@bp.errorhandler(faults.Fault)
def _on_fault(fault: faults.Fault) -> Response:
    return _fault_response(fault)


@bp.before_request
def _admit() -> Response | None:
    state = _state()
    realm = (request.view_args or {}).get("realm_id", "")
    state.requests.append({"method": request.method, "path": request.path, "args": dict(request.args)})
    grant = state.oauth.check_access(request.headers.get("Authorization", "").removeprefix("Bearer ").strip())
    if grant is None:
        return _fault_response(faults.authentication())
    if grant.realm_id != realm or realm != state.store.realm_id:
        return _fault_response(faults.authorization(f"token is not authorised for company {realm}"))
    decision = state.limiter.acquire(realm)
    if not decision.allowed:
        g.retry_after = decision.retry_after
        return _fault_response(faults.throttled(decision.problem or "minute"))
    g.admitted_realm = realm
    return None


@bp.teardown_request
def _release(_exc: BaseException | None) -> None:
    realm = g.pop("admitted_realm", None)
    if realm is not None:
        _state().limiter.release(realm)


def _body() -> Entity:
    try:
        data = json.loads(request.get_data() or b"{}", parse_float=Decimal)
    except ValueError:
        raise faults.validation("Request has invalid or unsupported property", "body is not valid JSON",
                                "2010") from None
    if not isinstance(data, dict):
        raise faults.validation("Request has invalid or unsupported property", "body must be an object",
                                "2010")
    return data


def _kind(path_name: str) -> str:
    try:
        return _PATHS[path_name.lower()]
    except KeyError:
        raise faults.validation("Unsupported Operation", f"Operation on {path_name} is not supported",
                                "500") from None


# --- reads ---------------------------------------------------------------------------------------
@bp.get("/<entity>/<entity_id>")
def read(realm_id: str, entity: str, entity_id: str) -> Response:
    kind = _kind(entity)
    return _ok({kind: _state().store.snapshot(kind, entity_id)})


@bp.route("/query", methods=["GET", "POST"])
def run_query(realm_id: str) -> Response:
    text = request.args.get("query") if request.method == "GET" else request.get_data(as_text=True)
    if not text:
        raise faults.query_error("query is required")
    parsed = query.parse(text)
    kind = query.bind(parsed, KINDS + tuple(_COMPANY_OBJECTS))
    store = _state().store
    if kind in _COMPANY_OBJECTS:
        page, total = query.run(parsed, [_COMPANY_OBJECTS[kind](store)])
    else:
        page, total = store.read(kind, lambda items: query.run(parsed, items))
    if parsed.count:
        return _ok({"QueryResponse": {"totalCount": total}})
    if not page:
        return _ok({"QueryResponse": {}})
    return _ok({"QueryResponse": {kind: page, "startPosition": parsed.start, "maxResults": len(page)}})


@bp.get("/cdc")
def cdc(realm_id: str) -> Response:
    store = _state().store
    names = [n.strip() for n in request.args.get("entities", "").split(",") if n.strip()]
    if not names:
        raise faults.required("entities")
    since = _parse_since(request.args.get("changedSince", ""))
    if since < store.clock() - CDC_LOOKBACK:
        raise faults.validation("Invalid changedSince", "changedSince must be within the last 30 days",
                                "4001", "changedSince")
    budget, responses = CDC_MAX_OBJECTS, []
    for name in names:
        kind = _kind(name)
        changed = _changed(store, kind, since)[:budget]
        budget -= len(changed)
        if changed:
            responses.append({kind: changed, "startPosition": 1, "maxResults": len(changed),
                              "totalCount": len(changed)})
        else:
            responses.append({})
    return _ok({"CDCResponse": [{"QueryResponse": responses}]})


def _parse_since(text: str) -> datetime:
    # An unencoded "+" in the query string arrives as a space before the UTC offset.
    text = re.sub(r" (\d{2}:?\d{2})$", r"+\1", text.strip()).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise faults.bad_date_time("changedSince", text) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _changed(store: QboStore, kind: str, since: datetime) -> list[Entity]:
    live = store.read(kind, lambda items: [e for e in items
                                           if datetime.fromisoformat(e["MetaData"]["LastUpdatedTime"]) >= since])
    with store.lock:
        gone = [{"Id": eid, "status": "Deleted", "domain": "QBO",
                 "MetaData": {"LastUpdatedTime": qbo_time(when)}}
                for eid, when in store.deleted[kind].items() if when >= since]
    both = live + gone
    both.sort(key=lambda e: e["MetaData"]["LastUpdatedTime"])
    return both


@bp.get("/preferences")
def preferences(realm_id: str) -> Response:
    return _ok({"Preferences": company_preferences(_state().store)})


@bp.get("/companyinfo/<company_id>")
def company_info(realm_id: str, company_id: str) -> Response:
    return _ok({"CompanyInfo": company_info_of(_state().store)})


def company_preferences(store: QboStore) -> Entity:
    """The company's Preferences object, as GET /preferences and ``SELECT * FROM Preferences`` serve it."""
    fields = []
    for definition, name in sorted(store.custom_fields.items()):
        # QBO's odd shape: per field, a "use" flag and a name, both as nested CustomField pairs.
        fields.append({"CustomField": [
            {"Name": f"SalesFormsPrefs.UseSalesCustom{definition}", "Type": "BooleanType", "BooleanValue": True},
            {"Name": f"SalesFormsPrefs.SalesCustomName{definition}", "Type": "StringType", "StringValue": name},
        ]})
    return {
        "Id": "1", "SyncToken": "0", "domain": "QBO", "sparse": False,
        "SalesFormsPrefs": {"CustomField": fields, "AllowDeposit": False, "AllowDiscount": True},
        "CurrencyPrefs": {"MultiCurrencyEnabled": True, "HomeCurrency": {"value": store.currency}},
    }


def company_info_of(store: QboStore) -> Entity:
    """The company's CompanyInfo object, as GET /companyinfo/{id} and ``SELECT * FROM CompanyInfo`` serve it."""
    return {"Id": "1", "SyncToken": "0", "CompanyName": store.company_name, "LegalName": store.company_name,
            "Country": store.country, "domain": "QBO"}


# The one-per-company objects the query endpoint also serves (QBO answers ``SELECT * FROM CompanyInfo``
# with a QueryResponse holding the one object, as python-quickbooks' CompanyInfo.all() expects); they are
# built from the company's state rather than stored as entities.
_COMPANY_OBJECTS: dict[str, Callable[[QboStore], Entity]] = {
    "Preferences": company_preferences, "CompanyInfo": company_info_of}


# --- writes --------------------------------------------------------------------------------------
Handler = Callable[[QboStore, Entity], Entity]


def _handler(kind: str, body: Entity) -> tuple[Handler, str]:
    operation = (request.args.get("operation") or "").lower()
    include = (request.args.get("include") or "").lower()
    if operation == "delete":
        table: dict[str, Handler] = {
            "Invoice": lambda s, b: entities.delete_transaction(s, "Invoice", b),
            "CreditMemo": lambda s, b: entities.delete_transaction(s, "CreditMemo", b),
            "Payment": entities.delete_payment}
    elif operation == "void" or include == "void":
        table = {"Invoice": entities.void_invoice,
                 "Payment": lambda s, b: entities.update_payment(s, b, void=True)}
    elif body.get("Id") not in (None, ""):
        table = {"Invoice": entities.update_invoice, "Payment": entities.update_payment,
                 "Customer": entities.update_customer}
    else:
        table = {"Invoice": entities.create_invoice, "Payment": entities.create_payment,
                 "CreditMemo": entities.create_credit_memo, "Customer": entities.create_customer,
                 "Purchase": banking.create_purchase, "Deposit": banking.create_deposit}
    if kind not in table:
        raise faults.validation("Unsupported Operation", f"{operation or 'update'} is not supported for "
                                f"{kind}", "500")
    return table[kind], kind


@bp.post("/<entity>")
def write(realm_id: str, entity: str) -> Response:
    state = _state()
    kind = _kind(entity)
    request_id = request.args.get("requestid")
    if request_id is not None and not 0 < len(request_id) <= MAX_REQUEST_ID:
        raise faults.validation("Invalid requestid", f"requestid must be 1-{MAX_REQUEST_ID} characters",
                                "2010", "requestid")
    with state.store.lock:  # check-act-remember must be atomic for requestid replay to be exact
        key = _replay_key(realm_id, kind, request_id)
        if request_id and key in state.store.responses:
            cached = state.store.responses[key]
            return Response(cached.body, status=cached.status, mimetype="application/json")
        body = _body()
        handler, kind = _handler(kind, body)
        result = handler(state.store, body)
        response = _ok({kind: copy.deepcopy(result)})
        if request_id:
            state.store.responses[key] = CachedResponse(response.status_code, response.get_data())
        return response


def _replay_key(realm_id: str, kind: str, request_id: str | None) -> str:
    # Intuit documents requestid as unique per company, and says nothing of the same id sent to another
    # endpoint. Keyed on the realm alone, POST /payment would replay an earlier POST /invoice's answer: an
    # Invoice body where the client asked for a Payment, which no QBO endpoint returns. So the key is the
    # realm, the entity and the operation (create/update, void, delete): a replay only ever repeats the
    # same kind of call.
    operation = (request.args.get("operation") or request.args.get("include") or "").lower()
    return f"{realm_id}:{kind}:{operation}:{request_id}"
