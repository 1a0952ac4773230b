"""Accounting API routes under /api.xro/2.0: contacts, invoices, history, payments, credit notes and
allocations, answering in Xero's envelopes and error shapes (bank transactions: ``bank_api``)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, request

from connectors.xero.emulator import wire
from connectors.xero.emulator.errors import UnknownEntityError, XeroValidationError, lookup
from connectors.xero.emulator.listing import id_list, select
from connectors.xero.emulator.payloads import (
    API_ROOT,
    CENT,
    BatchClaims,
    ElementsInvalidError,
    PostDataInvalidError,
    body_json,
    date_field,
    echoed,
    elements,
    envelope,
    money,
    not_found,
    ref_id,
    respond,
    save_all,
    validation_error,
    write,
    write_one,
)
from connectors.xero.emulator.records import (
    AllocationRecord,
    ContactRecord,
    CreditNoteRecord,
    InvoiceRecord,
    PaymentRecord,
)
from connectors.xero.emulator.rules import check_contact_status, invoice_edits
from connectors.xero.emulator.store import OrgStore
from connectors.xero.emulator.where import WhereError


def accounting_blueprint(store: OrgStore) -> Blueprint:
    """The Accounting API for one organisation."""
    bp = Blueprint("xero_accounting", __name__, url_prefix=API_ROOT)
    install_error_handlers(bp)
    _contact_routes(bp, store)
    _invoice_routes(bp, store)
    _payment_routes(bp, store)
    _credit_note_routes(bp, store)
    return bp


def install_error_handlers(bp: Blueprint) -> None:
    """Answer business-rule, lookup, query and JSON failures in Xero's shapes."""

    @bp.errorhandler(ElementsInvalidError)
    def _invalid(exc: ElementsInvalidError) -> Response:
        return validation_error(exc.elements)

    @bp.errorhandler(XeroValidationError)
    def _invalid_unechoed(exc: XeroValidationError) -> Response:
        # Every write path echoes its element (ElementsInvalidError); this answers a check raised outside
        # one, with whatever the check itself knew of the record.
        return validation_error([{**exc.element, "ValidationErrors": [{"Message": m} for m in exc.messages]}])

    @bp.errorhandler(UnknownEntityError)
    def _missing(exc: UnknownEntityError) -> Response:
        return not_found()

    @bp.errorhandler(WhereError)
    def _bad_where(exc: WhereError) -> Response:
        return respond({"ErrorNumber": 16, "Type": "QueryParseException", "Message": str(exc)}, 400)

    @bp.errorhandler(PostDataInvalidError)
    def _bad_json(exc: PostDataInvalidError) -> Response:
        return respond({"ErrorNumber": 17, "Type": "PostDataInvalidException",
                        "Message": f"Invalid Json data: {exc}"}, 400)


def listing(store: OrgStore, key: str, entity: str, records: Any, serialise: Callable[[Any], dict[str, Any]],
             filters: list[Callable[[Any], bool]] | None = None,
             view: Callable[[Any], dict[str, Any]] | None = None) -> Response:
    page = select(records, request.args, request.headers.get("If-Modified-Since"), entity=entity,
                  serialise=serialise, updated=lambda r: r.updated, record_filters=filters, view=view)
    return envelope(store, key, page.items, page.pagination)


def read_routes(bp: Blueprint, store: OrgStore, plural: str, entity: str, records: Callable[[], dict[str, Any]],
                serialise: Callable[[OrgStore, Any], dict[str, Any]],
                view: Callable[[OrgStore, Any], dict[str, Any]] | None = None) -> None:
    """GET /{plural} (paged, filtered like every listing; ``view`` is the summary shape a listing may ask
    for) and GET /{plural}/{id} (404 when unknown)."""

    def list_all() -> Response:
        summary = (lambda r: view(store, r)) if view is not None else None
        return listing(store, plural, entity, list(records().values()), lambda r: serialise(store, r), view=summary)

    def get_one(entity_id: str) -> Response:
        # An unknown id raises UnknownEntityError, which the blueprint answers with Xero's 404.
        return envelope(store, plural, [serialise(store, lookup(records(), entity_id))])

    bp.add_url_rule(f"/{plural}", f"list_{plural.lower()}", list_all, methods=["GET"])
    bp.add_url_rule(f"/{plural}/<entity_id>", f"get_{plural.lower()}", get_one, methods=["GET"])


def lines_total(lines: list[dict[str, Any]]) -> Decimal:
    """An invoice's or credit note's total: the sum of Quantity x UnitAmount over its lines, to the cent."""
    return sum((money(ln.get("Quantity", 1), "Quantity", 4) * money(ln.get("UnitAmount", 0), "UnitAmount", 4)
                for ln in lines), Decimal("0")).quantize(CENT)


def _contact_routes(bp: Blueprint, store: OrgStore) -> None:
    @bp.get("/Contacts")
    def list_contacts() -> Response:
        """GET /Contacts (archived ones only with includeArchived=true)."""
        ids = id_list(request.args.get("IDs"))
        filters = [lambda c: c.id in ids] if ids else []
        if request.args.get("includeArchived", "false").lower() != "true":
            filters.append(lambda c: c.status != "ARCHIVED")
        return listing(store, "Contacts", "Contact", list(store.contacts.values()), wire.contact, filters)

    @bp.get("/Contacts/<contact_id>")
    def get_contact(contact_id: str) -> Response:
        """GET /Contacts/{id}."""
        return envelope(store, "Contacts", [wire.contact(store.contact(contact_id))])

    @bp.route("/Contacts", methods=["PUT", "POST"])
    def create_contacts() -> Response:
        """PUT/POST /Contacts: create, or update when a ContactID is given."""
        return write(store, "Contacts", lambda item, claims: _prepare_contact(store, item, None, claims),
                     wire.contact, "HasValidationErrors")

    @bp.post("/Contacts/<contact_id>")
    def update_contact(contact_id: str) -> Response:
        """POST /Contacts/{id}."""
        return write_one(store, "Contacts", lambda item, claims: _prepare_contact(store, item, contact_id, claims),
                         wire.contact, "HasValidationErrors", {"ContactID": contact_id})


def _prepare_contact(store: OrgStore, item: dict[str, Any], contact_id: str | None,
                     claims: BatchClaims) -> Callable[[], ContactRecord]:
    contact_id = contact_id or item.get("ContactID")
    email = item.get("EmailAddress")
    if contact_id:
        rec = store.contact(str(contact_id))  # unknown: 404
        status = item.get("ContactStatus")
        check_contact_status(status)
        return lambda: store.update_contact(rec.id, email=email, status=status)
    name, currency = str(item.get("Name") or ""), item.get("DefaultCurrency")
    store.check_new_contact(name, currency=currency, claimed=claims.contact_names)
    claims.contact_names.add(name.lower())
    return lambda: store.create_contact(name, email, currency)


def _find_invoice(store: OrgStore, key: str) -> InvoiceRecord:
    try:
        return store.invoice(key)
    except UnknownEntityError:
        for inv in store.invoices.values():  # Xero also accepts the InvoiceNumber in the path
            if inv.number == key:
                return inv
        raise


def _invoice_routes(bp: Blueprint, store: OrgStore) -> None:
    @bp.get("/Invoices")
    def list_invoices() -> Response:
        """GET /Invoices with IDs, ContactIDs, Statuses and InvoiceNumbers filters."""
        filters: list[Callable[[InvoiceRecord], bool]] = []
        ids, contacts = id_list(request.args.get("IDs")), id_list(request.args.get("ContactIDs"))
        statuses = {s.upper() for s in (id_list(request.args.get("Statuses")) or set())}
        numbers = id_list(request.args.get("InvoiceNumbers"))
        if ids:
            filters.append(lambda i: i.id in ids)
        if contacts:
            filters.append(lambda i: i.contact_id in contacts)
        if statuses:
            filters.append(lambda i: i.status in statuses)
        if numbers:
            filters.append(lambda i: i.number.lower() in numbers)
        return listing(store, "Invoices", "Invoice", list(store.invoices.values()),
                        lambda r: wire.invoice(store, r), filters, view=lambda r: wire.invoice_header(store, r))

    @bp.get("/Invoices/<invoice_id>")
    def get_invoice(invoice_id: str) -> Response:
        """GET /Invoices/{id or number}."""
        return envelope(store, "Invoices", [wire.invoice(store, _find_invoice(store, invoice_id))])

    @bp.route("/Invoices", methods=["PUT", "POST"])
    def create_invoices() -> Response:
        """PUT/POST /Invoices: create, or update when an InvoiceID is given."""
        return write(store, "Invoices", lambda item, claims: _prepare_invoice(store, item, None, claims),
                     lambda i: wire.invoice(store, i), "HasErrors")

    @bp.post("/Invoices/<invoice_id>")
    def update_invoice(invoice_id: str) -> Response:
        """POST /Invoices/{id or number}: status change or edit."""
        found = _find_invoice(store, invoice_id).id
        return write_one(store, "Invoices", lambda item, claims: _prepare_invoice(store, item, found, claims),
                         lambda i: wire.invoice(store, i), "HasErrors", {"InvoiceID": found})

    @bp.get("/Invoices/<invoice_id>/History")
    def get_history(invoice_id: str) -> Response:
        """GET /Invoices/{id}/History."""
        inv = _find_invoice(store, invoice_id)
        return envelope(store, "HistoryRecords", [wire.history(h) for h in store.history.get(inv.id, [])])

    @bp.route("/Invoices/<invoice_id>/History", methods=["PUT", "POST"])
    def add_history(invoice_id: str) -> Response:
        """PUT /Invoices/{id}/History."""
        inv = _find_invoice(store, invoice_id)
        made = []
        for item in elements(body_json(), "HistoryRecords"):
            with echoed(item, None):
                made.append(store.add_history(inv.id, str(item.get("Details") or "")))
        return envelope(store, "HistoryRecords", [wire.history(h) for h in made])


def _prepare_invoice(store: OrgStore, item: dict[str, Any], invoice_id: str | None,
                     claims: BatchClaims) -> Callable[[], InvoiceRecord]:
    invoice_id = invoice_id or item.get("InvoiceID")
    if invoice_id:
        return _prepare_invoice_update(store, item, store.invoice(str(invoice_id)), claims)
    if item.get("Type", "ACCREC") != "ACCREC":
        raise XeroValidationError("Only ACCREC invoices are supported by this emulator.")
    lines = item.get("LineItems") or []
    if not isinstance(lines, list) or not lines:
        raise XeroValidationError("Invoice must have at least one line item.")
    total = lines_total(lines)
    issue = date_field(item, "Date")
    due = date_field(item, "DueDate", required=False) or issue
    contact_id, status = ref_id(item, "Contact", "ContactID"), item.get("Status", "DRAFT")
    currency = item.get("CurrencyCode")
    rate = money(item["CurrencyRate"], "CurrencyRate", 6) if item.get("CurrencyRate") is not None else None
    # An automatic number is chosen now, so a later element of the batch that asks for it by hand clashes.
    number = item.get("InvoiceNumber") or store.next_invoice_number(reserved=claims.invoice_numbers)
    store.check_new_invoice(contact_id, issue, due, total, status=status, number=number, currency=currency,
                            currency_rate=rate, claimed=claims.invoice_numbers)
    claims.invoice_numbers.add(number.lower())
    return lambda: store.create_invoice(contact_id, issue, due, total, number=number, status=status,
                                        reference=item.get("Reference"), currency=currency, currency_rate=rate,
                                        description=str(lines[0].get("Description") or "Services"))


def _prepare_invoice_update(store: OrgStore, item: dict[str, Any], inv: InvoiceRecord,
                            claims: BatchClaims) -> Callable[[], InvoiceRecord]:
    status, due = item.get("Status"), date_field(item, "DueDate", required=False)
    reference, sent = item.get("Reference"), item.get("SentToContact")
    current = claims.invoice_statuses.get(inv.id, inv.status)
    store.check_invoice_update(inv, status=status, edits=invoice_edits(due, reference, sent), current=current)
    claims.invoice_statuses[inv.id] = status or current
    return lambda: store.update_invoice(inv.id, status=status, due_date=due, reference=reference, sent=sent)


def _payment_routes(bp: Blueprint, store: OrgStore) -> None:
    read_routes(bp, store, "Payments", "Payment", lambda: store.payments, wire.payment, view=wire.payment_header)

    @bp.route("/Payments", methods=["PUT", "POST"])
    def create_payments() -> Response:
        """PUT/POST /Payments: one payment or a batch (the valid ones saved, see ``write``)."""
        return write(store, "Payments", lambda item, claims: _prepare_payment(store, item, claims),
                     lambda p: wire.payment(store, p), "HasValidationErrors")

    @bp.post("/Payments/<payment_id>")
    def delete_payment(payment_id: str) -> Response:
        """POST /Payments/{id} with Status DELETED."""
        item = elements(body_json(), "Payments")[0]
        with echoed(item, "HasValidationErrors", {"PaymentID": payment_id}):
            if item.get("Status") != "DELETED":
                raise XeroValidationError("Payments can only be deleted (Status DELETED).")
            deleted = store.delete_payment(payment_id)
        return envelope(store, "Payments", [wire.payment(store, deleted)])


def _prepare_payment(store: OrgStore, item: dict[str, Any], claims: BatchClaims) -> Callable[[], PaymentRecord]:
    account = item.get("Account") or {}
    code = account.get("Code") if isinstance(account, dict) else None
    if not code:
        raise XeroValidationError("Account code must be specified.")
    if "Amount" not in item:
        raise XeroValidationError("Amount is required.")
    invoice_id, on = ref_id(item, "Invoice", "InvoiceID"), date_field(item, "Date")
    amount = money(item["Amount"], "Amount")
    inv = store.applied_invoice(invoice_id)
    # Checked against what the earlier elements of the batch pay to the same invoice.
    already = claims.invoice_payments.get(inv.id, Decimal("0"))
    store.check_payment(inv, amount, str(code), already=already)
    claims.invoice_payments[inv.id] = already + amount
    # Separate payments, even when sent together: only PUT /BatchPayments makes a batch payment (one
    # deposit, one BatchPaymentID), which is what Xero returns BatchPaymentID for.
    return lambda: store.add_payment(inv.id, on, amount, reference=item.get("Reference"), account_code=str(code))


def _credit_note_routes(bp: Blueprint, store: OrgStore) -> None:
    read_routes(bp, store, "CreditNotes", "CreditNote", lambda: store.credit_notes, wire.credit_note,
                view=wire.credit_note_header)

    @bp.route("/CreditNotes", methods=["PUT", "POST"])
    def create_credit_notes() -> Response:
        """PUT/POST /CreditNotes."""
        return write(store, "CreditNotes", lambda item, _claims: _prepare_credit_note(store, item),
                     lambda n: wire.credit_note(store, n), "HasErrors")

    @bp.route("/CreditNotes/<note_id>/Allocations", methods=["PUT", "POST"])
    def allocate(note_id: str) -> Response:
        """PUT /CreditNotes/{id}/Allocations."""
        note = store.credit_note(note_id)
        # An Allocation has no HasErrors flag: a refused one carries only its ValidationErrors.
        made = save_all(store, elements(body_json(), "Allocations"),
                        lambda item, claims: _prepare_allocation(store, note, item, claims), None,
                        {"CreditNoteID": note.id})
        return envelope(store, "Allocations", [wire.allocation(store, a) for a in made])


def _prepare_credit_note(store: OrgStore, item: dict[str, Any]) -> Callable[[], CreditNoteRecord]:
    if item.get("Type", "ACCRECCREDIT") != "ACCRECCREDIT":
        raise XeroValidationError("Only ACCRECCREDIT credit notes are supported by this emulator.")
    lines = item.get("LineItems") or []
    if not isinstance(lines, list) or not lines:
        raise XeroValidationError("Credit note must have at least one line item.")
    total, on = lines_total(lines), date_field(item, "Date")
    contact_id, status = ref_id(item, "Contact", "ContactID"), item.get("Status", "DRAFT")
    currency = item.get("CurrencyCode")
    store.check_new_credit_note(contact_id, total, status=status, currency=currency)
    return lambda: store.create_credit_note(contact_id, on, total, currency=currency,
                                            reference=item.get("Reference"), status=status,
                                            number=item.get("CreditNoteNumber"))


def _prepare_allocation(store: OrgStore, note: CreditNoteRecord, item: dict[str, Any],
                        claims: BatchClaims) -> Callable[[], AllocationRecord]:
    if "Amount" not in item:
        raise XeroValidationError("Amount is required.")
    invoice_id, on = ref_id(item, "Invoice", "InvoiceID"), date_field(item, "Date")
    amount = money(item["Amount"], "Amount")
    inv = store.applied_invoice(invoice_id)
    # Checked against what the earlier elements of the batch take from the note and apply to the invoice.
    applied = claims.invoice_credits.get(inv.id, Decimal("0"))
    store.check_allocation(note, inv, amount, note_used=claims.credit_used, invoice_used=applied)
    claims.credit_used += amount
    claims.invoice_credits[inv.id] = applied + amount
    return lambda: store.allocate_credit(note.id, inv.id, amount, on)
