"""Reading Xero request bodies and answering in Xero's envelopes and error shapes, and the batch write every
collection endpoint shares (``write``: the valid elements saved, the failing ones answered as a 400)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from flask import Response, request

from connectors.xero.emulator import wire
from connectors.xero.emulator.errors import XeroValidationError
from connectors.xero.emulator.store import OrgStore

R = TypeVar("R")

JSON = "application/json; charset=utf-8"
CENT = Decimal("0.01")
API_ROOT = "/api.xro/2.0"


class PostDataInvalidError(Exception):
    """The body is not valid JSON (Xero: PostDataInvalidException)."""


class ElementsInvalidError(Exception):
    """Elements of a write failed Xero's checks: answered as the 400 ValidationException whose ``Elements``
    echo each failing element with its own ValidationErrors."""

    def __init__(self, failed: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(failed)} element(s) failed validation")
        self.elements = failed


def respond(payload: Any, status: int = 200) -> Response:
    """A JSON response in Xero's encoding."""
    return Response(wire.encode(payload), status=status, content_type=JSON)


def envelope(store: OrgStore, key: str, items: list[dict[str, Any]],
             pagination: dict[str, int] | None = None) -> Response:
    """Xero's success envelope around a list of entities."""
    body: dict[str, Any] = {"Id": str(uuid.uuid4()), "Status": "OK", "ProviderName": "Cashline",
                            "DateTimeUTC": store.clock.now()}
    if pagination is not None:
        body["pagination"] = pagination
    body[key] = items
    return respond(body)


def validation_error(failed: list[dict[str, Any]]) -> Response:
    """Xero's 400 ValidationException: ``failed`` are the elements as ``echo`` returns them."""
    return respond({"ErrorNumber": 10, "Type": "ValidationException",
                    "Message": "A validation exception occurred", "Elements": failed}, 400)


def request_error(message: str) -> Response:
    """A 400 ValidationException about the request rather than one element of it (no element to echo)."""
    return validation_error([{"ValidationErrors": [{"Message": message}]}])


def echo(item: dict[str, Any], exc: XeroValidationError, error_flag: str | None,
         known: dict[str, Any] | None = None) -> dict[str, Any]:
    """A failing element as Xero answers it: the fields that were sent, the ids the emulator knows it by
    (``known``: the id in the URL; ``exc.element``: the record the check judged), the entity's error flag
    (HasErrors / HasValidationErrors; Allocations and BankTransactions have none) and its ValidationErrors.

    Real Xero also fills in every default field of the entity (empty Payments, AmountDue, ...) and gives a
    new element a fresh id; the emulator echoes only what was sent, which is what a caller can match on."""
    flag: dict[str, Any] = {error_flag: True} if error_flag else {}
    return {**item, **(known or {}), **exc.element, **flag,
            "ValidationErrors": [{"Message": m} for m in exc.messages]}


@contextmanager
def echoed(item: dict[str, Any], error_flag: str | None, known: dict[str, Any] | None = None) -> Iterator[None]:
    """Answer a XeroValidationError raised while handling one element with that element echoed."""
    try:
        yield
    except XeroValidationError as exc:
        raise ElementsInvalidError([echo(item, exc, error_flag, known)]) from None


def not_found() -> Response:
    """Xero's plain-text 404."""
    return Response("The resource you're looking for cannot be found", 404, content_type="text/plain")


def body_json() -> dict[str, Any]:
    """The request body as a JSON object with Decimal numbers (PostDataInvalidError if not)."""
    try:
        data = json.loads(request.get_data() or b"null", parse_float=Decimal)
    except ValueError as exc:
        raise PostDataInvalidError(str(exc)) from None
    if not isinstance(data, dict):
        raise PostDataInvalidError("Expected a JSON object")
    return data


def elements(data: dict[str, Any], plural: str) -> list[dict[str, Any]]:
    """A body is either ``{"Invoices": [...]}`` or a single element."""
    items = data.get(plural, [data]) if plural in data else [data]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise PostDataInvalidError(f"{plural} must be an array of objects")
    return items


def money(value: Any, name: str, places: int = 2) -> Decimal:
    """A request amount as Decimal; Xero rounds amounts to 2 places (unit amounts may carry 4)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise XeroValidationError(f"{name} must be a number.") from None
    if not amount.is_finite():
        raise XeroValidationError(f"{name} must be a number.")
    return amount.quantize(CENT) if places == 2 else amount


def date_field(item: dict[str, Any], name: str, required: bool = True) -> Any:
    """A request date field, validated the way Xero does."""
    if name not in item or item[name] in (None, ""):
        if required:
            raise XeroValidationError(f"{name} is required.")
        return None
    try:
        return wire.parse_request_date(item[name])
    except wire.BadDateError as exc:
        raise XeroValidationError(str(exc)) from None


def ref_id(item: dict[str, Any], key: str, id_key: str) -> str:
    """The id inside a reference object such as ``{"Invoice": {"InvoiceID": ...}}``."""
    ref = item.get(key)
    if not isinstance(ref, dict) or not ref.get(id_key):
        raise XeroValidationError(f"{key}.{id_key} is required.")
    return str(ref[id_key])


@dataclass
class BatchClaims:
    """What the earlier elements of one request will take, so each later element is checked against the
    state they leave: the whole batch is checked before any of it is saved."""

    invoice_numbers: set[str] = field(default_factory=set)  # lower-cased
    contact_names: set[str] = field(default_factory=set)  # lower-cased
    invoice_statuses: dict[str, str] = field(default_factory=dict)  # InvoiceID -> status after the element
    invoice_payments: dict[str, Decimal] = field(default_factory=dict)  # InvoiceID -> what the batch pays it
    credit_used: Decimal = Decimal("0")  # what a batch of allocations takes from its credit note
    invoice_credits: dict[str, Decimal] = field(default_factory=dict)  # InvoiceID -> what those allocations apply


# Parses and checks one element (raising XeroValidationError), and answers the step that saves it.
Prepare = Callable[[dict[str, Any], BatchClaims], Callable[[], R]]


def save_all(store: OrgStore, items: list[dict[str, Any]], prepare: Prepare[R], error_flag: str | None,
             known: dict[str, Any] | None = None) -> list[R]:
    """Save every element or none (credit-note allocations, and the one element of POST /{plural}/{id});
    when any fails, raise ElementsInvalidError echoing every failing element (not only the first), in
    request order."""
    # Every element is checked before the first one is saved, or the valid ones would be kept beside
    # the 400 that the invalid one causes (the lock keeps other requests from changing what was checked).
    # A failing element claims nothing (its checks raise before it claims), so the elements after it are
    # judged as if it had not been sent.
    with store.lock:
        claims = BatchClaims()
        saves: list[Callable[[], R]] = []
        failed: list[dict[str, Any]] = []
        for item in items:
            try:
                saves.append(prepare(item, claims))
            except XeroValidationError as exc:
                failed.append(echo(item, exc, error_flag, known))
        if failed:
            raise ElementsInvalidError(failed)
        return [save() for save in saves]


def save_each(store: OrgStore, items: list[dict[str, Any]], prepare: Prepare[R],
              serialise: Callable[[R], dict[str, Any]], error_flag: str | None) -> list[dict[str, Any]]:
    """summarizeErrors=false: each element is saved, or comes back carrying its own ValidationErrors
    (``error_flag`` is the entity's HasErrors / HasValidationErrors field, None where it has none)."""
    out = []
    for item in items:
        try:
            with store.lock:
                made = prepare(item, BatchClaims())()
        except XeroValidationError as exc:
            out.append({**echo(item, exc, error_flag), "StatusAttributeString": "ERROR"})
        else:
            out.append({**serialise(made), "StatusAttributeString": "OK"})
    return out


def save_valid(store: OrgStore, items: list[dict[str, Any]], prepare: Prepare[R], error_flag: str | None) -> list[R]:
    """Xero's default for a collection (summarizeErrors=true): each element is saved in turn, judged against
    the state the earlier ones leave; when any fails, raise ElementsInvalidError echoing every failing
    element, in request order, while the valid ones stay saved (the 400 does not list them).

    Xero saves them (Stack Overflow 52706101, Xero's answer pointing to summarizeErrors=false to see them;
    Xero-Net#354): a client that re-sends a refused request under a new key creates them twice."""
    with store.lock:  # the whole request at once, as save_all, so another request cannot interleave
        made: list[R] = []
        failed: list[dict[str, Any]] = []
        for item in items:
            try:
                made.append(prepare(item, BatchClaims())())
            except XeroValidationError as exc:
                failed.append(echo(item, exc, error_flag))
        if failed:
            raise ElementsInvalidError(failed)
        return made


def write(store: OrgStore, plural: str, prepare: Prepare[R], serialise: Callable[[R], dict[str, Any]],
          error_flag: str | None) -> Response:
    """PUT/POST of a collection: the valid elements are saved and a 400 lists the failing ones, or with
    summarizeErrors=false a 200 lists every element with its outcome."""
    items = elements(body_json(), plural)
    if request.args.get("summarizeErrors", "true").lower() == "false":
        return envelope(store, plural, save_each(store, items, prepare, serialise, error_flag))
    return envelope(store, plural, [serialise(r) for r in save_valid(store, items, prepare, error_flag)])


def write_one(store: OrgStore, plural: str, prepare: Prepare[R], serialise: Callable[[R], dict[str, Any]],
              error_flag: str | None, known: dict[str, Any]) -> Response:
    """POST /{plural}/{id}: the first element, through the same checks as a batch (``known``: the id in the
    URL, which a refusal echoes even when the body left it out)."""
    item = elements(body_json(), plural)[0]
    return envelope(store, plural, [serialise(r) for r in save_all(store, [item], prepare, error_flag, known)])
