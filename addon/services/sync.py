"""Mirror the platform's receivables into our tables: backfill, incremental, single entity.

Upserts are keyed by (tenant_id, remote_id), so replaying any sync is harmless. Remote deletions and
voids are applied (status changes, never silently dropped rows: scores and audit refer to them).
The service flushes; the caller (a job) commits.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addon.domain import types as d
from addon.domain.phones import to_e164
from addon.models import (
    CreditAllocation,
    CreditNote,
    Customer,
    Invoice,
    Payment,
    PaymentAllocation,
    Tenant,
)
from addon.services import grants
from connectors.base import AccountingConnector, ChangeSet
from connectors.errors import NotFoundError, ScopeError

logger = logging.getLogger(__name__)

# Xero's If-Modified-Since misses some changes (API_FACTS §1 Dates), so incremental syncs overlap the
# previous one a little and a periodic full sweep repairs the rest.
OVERLAP = timedelta(minutes=5)
FULL_SWEEP_EVERY = timedelta(hours=24)
# Above this many invoices a sync dates settlements by scanning the tenant's paid invoices without a date
# instead of listing them (see Mirror.date_settlements).
_SETTLEMENT_CANDIDATES = 2000


def full_sweep_due(last_full_sweep: datetime | None, now: datetime, every: timedelta = FULL_SWEEP_EVERY) -> bool:
    """Whether the periodic sweep should re-read everything (a backfill) instead of an incremental sync:
    Xero's modified filter misses some edits (e.g. DueDate on part-paid invoices)."""
    return last_full_sweep is None or now - last_full_sweep >= every


@dataclass
class SyncResult:
    contacts: int = 0
    invoices: int = 0
    payments: int = 0
    credit_notes: int = 0
    deleted: int = 0
    touched_invoice_ids: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, int]:
        return {"contacts": self.contacts, "invoices": self.invoices, "payments": self.payments,
                "credit_notes": self.credit_notes, "deleted": self.deleted}


class Mirror:
    """Upserts for one tenant, with small per-run caches of remote id -> row."""

    def __init__(self, session: Session, tenant: Tenant) -> None:
        self.session = session
        self.tenant = tenant
        self._customers: dict[str, Customer] = {}
        self._invoices: dict[str, Invoice] = {}
        self.applied_to: set[int] = set()  # invoices that payments or credit notes of this run apply to

    def _existing(self, model: Any, remote_ids: Iterable[str]) -> dict[str, Any]:
        ids = list(set(remote_ids))
        found: dict[str, Any] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self.session.scalars(
                select(model).where(model.tenant_id == self.tenant.id, model.remote_id.in_(chunk)))
            found.update({r.remote_id: r for r in rows})
        return found

    def _rows(self, model: Any, items: list[Any]) -> list[tuple[Any, Any]]:
        """(item, row) pairs: the mirrored row for each item's remote id, created when new."""
        existing = self._existing(model, (i.remote_id for i in items))
        pairs = []
        for item in items:
            row = existing.get(item.remote_id)
            if row is None:
                row = model(tenant_id=self.tenant.id, remote_id=item.remote_id)
                self.session.add(row)
                existing[item.remote_id] = row
            pairs.append((item, row))
        return pairs

    def _allocations(self, model: Any, allocations: tuple[d.Allocation, ...], currency: str) -> list[Any]:
        rows = [model(tenant_id=self.tenant.id, invoice_remote_id=a.invoice_id, amount=a.amount, currency=currency,
                      invoice_id=_id_of(self.invoice(a.invoice_id))) for a in allocations]
        self.applied_to.update(row.invoice_id for row in rows if row.invoice_id is not None)
        return rows

    def customer(self, remote_id: str | None) -> Customer | None:
        row: Customer | None = None if remote_id is None else self._cached(Customer, self._customers, remote_id)
        return row

    def invoice(self, remote_id: str) -> Invoice | None:
        row: Invoice | None = self._cached(Invoice, self._invoices, remote_id)
        return row

    def _cached(self, model: Any, cache: dict[str, Any], remote_id: str) -> Any:
        """The mirrored row of ``remote_id`` from the run's cache, else the database (then cached).

        Called while an upsert is filling in rows it has just added: an autoflush here would insert
        them half-built (NOT NULL failures on a new invoice or payment whose customer is not cached).
        """
        if remote_id not in cache:
            with self.session.no_autoflush:
                row = self.session.scalar(select(model).where(model.tenant_id == self.tenant.id,
                                                              model.remote_id == remote_id))
            if row is None:
                return None
            cache[remote_id] = row
        return cache[remote_id]

    def upsert_contacts(self, contacts: list[d.Contact]) -> int:
        for c, row in self._rows(Customer, contacts):
            row.name, row.emails, row.currency = c.name, list(c.emails), c.currency
            row.bank_accounts, row.timezone = list(c.bank_accounts), c.timezone
            row.mobile = to_e164(c.mobile, self.tenant.country)  # national numbers read in the tenant's country
            row.country = c.country
            row.archived, row.remote_updated_at = c.archived, c.updated_at
            self._customers[c.remote_id] = row
        self.session.flush()
        return len(contacts)

    def upsert_invoices(self, invoices: list[d.Invoice], result: SyncResult) -> int:
        for inv, row in self._rows(Invoice, invoices):
            customer = self.customer(inv.contact_id)
            _apply_invoice(row, inv, customer)
            self._invoices[inv.remote_id] = row
        self.session.flush()
        result.touched_invoice_ids.update(self._invoices[i.remote_id].id for i in invoices)
        return len(invoices)

    def upsert_payments(self, payments: list[d.Payment]) -> int:
        for p, row in self._rows(Payment, payments):
            customer = self.customer(p.contact_id)
            row.customer_id = customer.id if customer else None
            row.date, row.amount, row.currency = p.date, p.amount, p.currency
            row.unapplied_amount, row.reference = p.unapplied_amount, p.reference
            row.deleted, row.remote_updated_at = p.deleted, p.updated_at
            row.allocations = self._allocations(PaymentAllocation, p.allocations, p.currency)
        self.session.flush()
        return len(payments)

    def upsert_credit_notes(self, notes: list[d.CreditNote]) -> int:
        for c, row in self._rows(CreditNote, notes):
            customer = self.customer(c.contact_id)
            row.customer_id = customer.id if customer else None
            row.number, row.date, row.currency = c.number, c.date, c.currency
            row.total, row.remaining, row.voided = c.total, c.remaining, c.voided
            row.reason, row.remote_updated_at = c.reason, c.updated_at
            # Allocations another document made (QBO's applying Payments) are not the note's to replace:
            # a memo read again comes without them. upsert_credit_applications keeps those.
            applied_elsewhere = [a for a in row.allocations if a.source_id is not None]
            row.allocations = [*applied_elsewhere,
                               *self._allocations(CreditAllocation, c.allocations, c.currency)]
        self.session.flush()
        return len(notes)

    def upsert_credit_applications(self, applications: list[d.CreditApplication]) -> int:
        """Merge credit applied by separate documents into the notes' allocations, keyed by that document:
        its allocations are replaced by what it applies now, or dropped when it is deleted or voided.
        Allocations other documents made are untouched, so a sync that reads one later application of an
        old memo keeps the ones it already knows. A credit note the mirror does not hold yet is skipped
        (logged); the daily backfill reads every memo and every payment."""
        if not applications:
            return 0
        self._drop_applied_by([a.remote_id for a in applications])
        notes = self._existing(CreditNote, (c.credit_note_id for a in applications for c in a.credits))
        for application in applications:
            if application.deleted:
                continue
            for credit in application.credits:
                note = notes.get(credit.credit_note_id)
                if note is None:
                    logger.warning("tenant %s: payment %s applies credit note %s, which is not mirrored",
                                   self.tenant.id, application.remote_id, credit.credit_note_id)
                    continue
                row = self._allocations(CreditAllocation, (d.Allocation(credit.invoice_id, credit.amount),),
                                        note.currency)[0]
                row.applied_on, row.source_id = application.date, application.remote_id
                note.allocations.append(row)
                self._redate(row.invoice_id)
        self.session.flush()
        return len(applications)

    def _drop_applied_by(self, source_ids: list[str]) -> None:
        """Remove the allocations the given documents made (re-read, deleted or voided), and let the invoices
        they settled be dated again."""
        for start in range(0, len(source_ids), 500):
            chunk = source_ids[start:start + 500]
            rows = list(self.session.scalars(select(CreditAllocation).where(
                CreditAllocation.tenant_id == self.tenant.id, CreditAllocation.source_id.in_(chunk))))
            for row in rows:
                self._redate(row.invoice_id)
                # Through the note's collection (delete-orphan), so a note already loaded in this run does
                # not keep the row.
                note = self.session.get_one(CreditNote, row.credit_note_id)
                note.allocations.remove(row)

    def _redate(self, invoice_id: int | None) -> None:
        """A paid invoice whose credit changed is dated again by date_settlements (QBO gives no paid date, so
        the one the mirror keeps is its own derivation: a credit applied later moves it)."""
        if invoice_id is None:
            return
        self.applied_to.add(invoice_id)
        invoice = self.session.get(Invoice, invoice_id)
        if invoice is not None and invoice.tenant_id == self.tenant.id:
            invoice.fully_paid_on = None

    def mark_deleted(self, deleted: dict[str, list[str]]) -> int:
        """Apply the platform's deletions (QBO's CDC reports every kind) to the rows the mirror holds;
        returns how many changed. Rows are kept and flagged, never dropped: scores and audit refer to them."""
        count = 0
        invoice_ids = deleted.get(d.EntityKind.INVOICE.value, [])
        self._invoices.update(self._existing(Invoice, (i for i in invoice_ids if i not in self._invoices)))
        for remote_id in invoice_ids:
            row = self._invoices.get(remote_id)
            if row is not None and row.status != d.InvoiceStatus.DELETED.value:
                row.status, row.amount_due = d.InvoiceStatus.DELETED.value, row.amount_due * 0
                count += 1
        payment_ids = deleted.get(d.EntityKind.PAYMENT.value, [])
        count += self._flag_deleted(Payment, "deleted", payment_ids)
        # A deleted QBO payment that applied a credit memo no longer settles anything either.
        self._drop_applied_by(payment_ids)
        # A deleted credit memo no longer settles anything: voided, its allocations stop counting.
        count += self._flag_deleted(CreditNote, "voided", deleted.get(d.EntityKind.CREDIT_NOTE.value, []))
        # A deleted customer is gone from the platform's lists: archived, like Xero's archived contacts.
        count += self._flag_deleted(Customer, "archived", deleted.get(d.EntityKind.CONTACT.value, []))
        self.session.flush()
        return count

    def _flag_deleted(self, model: Any, flag: str, remote_ids: list[str]) -> int:
        rows = self._existing(model, remote_ids)  # in chunks, not one query per deleted row
        changed = [row for row in rows.values() if not getattr(row, flag)]
        for row in changed:
            setattr(row, flag, True)
        return len(changed)

    def date_settlements(self, candidates: Collection[int]) -> int:
        """Give paid invoices without a paid date the date of the latest payment or credit note applied to
        them; returns how many were dated.

        QuickBooks keeps no paid date on an invoice (its Balance just reaches zero) and Xero leaves one out
        now and then; without a date the mirror could only count the invoice as paid on its due date, and
        the risk model, the dunning history and the DSO/CEI figures would all read every customer as
        punctual. Runs after every change set and single-invoice sync on the invoices it touched or applied
        money to (``candidates``), so an invoice whose payment arrives in a later sync is dated then, from all
        the applications known; a larger run (a backfill, the daily sweep) looks at every paid invoice.
        """
        if not candidates:
            return 0
        paid_on = (select(func.max(Payment.date)).join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
                   .where(PaymentAllocation.invoice_id == Invoice.id, Payment.deleted.is_(False))
                   .scalar_subquery())
        credited_on = (select(func.max(func.coalesce(CreditAllocation.applied_on, CreditNote.date)))
                       .select_from(CreditNote)
                       .join(CreditAllocation, CreditAllocation.credit_note_id == CreditNote.id)
                       .where(CreditAllocation.invoice_id == Invoice.id, CreditNote.voided.is_(False))
                       .scalar_subquery())
        query = (select(Invoice.id, paid_on, credited_on)
                 .where(Invoice.tenant_id == self.tenant.id, Invoice.status == d.InvoiceStatus.PAID.value,
                        Invoice.fully_paid_on.is_(None)))
        if len(candidates) <= _SETTLEMENT_CANDIDATES:
            query = query.where(Invoice.id.in_(list(candidates)))
        undated = self.session.execute(query).all()
        count = 0
        for invoice_id, paid, credited in undated:
            last = max((day for day in (paid, credited) if day is not None), default=None)
            if last is not None:
                self.session.get_one(Invoice, invoice_id).fully_paid_on = last
                count += 1
        self.session.flush()
        return count


def _id_of(row: Invoice | None) -> int | None:
    return row.id if row is not None else None


def _apply_invoice(row: Invoice, inv: d.Invoice, customer: Customer | None) -> None:
    row.customer_id = customer.id if customer else None
    row.number, row.currency = inv.number, inv.currency
    row.issue_date, row.due_date = inv.issue_date, inv.due_date
    row.total, row.amount_due, row.home_rate = inv.total, inv.amount_due, inv.home_rate
    row.amount_paid, row.amount_credited = inv.amount_paid, inv.amount_credited
    # A paid date the platform does not give (QuickBooks never does) stays as date_settlements derived it.
    kept = row.fully_paid_on if inv.status is d.InvoiceStatus.PAID else None
    row.status, row.sent, row.fully_paid_on = inv.status.value, inv.sent, inv.fully_paid_on or kept
    row.billing_email = inv.billing_email or (customer.emails[0] if customer and customer.emails else None)
    row.online_url, row.remote_updated_at = inv.online_url, inv.updated_at


def apply_changes(session: Session, tenant: Tenant, changes: ChangeSet) -> SyncResult:
    """Upsert a change set in dependency order (contacts before the invoices that refer to them)."""
    mirror, result = Mirror(session, tenant), SyncResult()
    result.contacts = mirror.upsert_contacts(changes.contacts)
    result.invoices = mirror.upsert_invoices(changes.invoices, result)
    result.payments = mirror.upsert_payments(changes.payments)
    result.credit_notes = mirror.upsert_credit_notes(changes.credit_notes)
    mirror.upsert_credit_applications(changes.credit_applications)
    result.deleted = mirror.mark_deleted(changes.deleted)
    mirror.date_settlements(result.touched_invoice_ids | mirror.applied_to)
    return result


def refresh_organisation(tenant: Tenant, connector: AccountingConnector) -> None:
    """Store what the platform says about the organisation on the tenant: its home (base) currency, the
    currency invoice rates convert into, and its country, the default for dunning's public holidays.

    Read at every backfill (install and the daily sweep), so a tenant installed before Cashline read them,
    or one whose books moved currency, is corrected within a day; what a platform does not say is left
    as stored.

    Optional: a grant without the scope for it (a tenant installed before Cashline asked for
    accounting.settings.read) leaves both as stored, records the missing scope for the tenant's page, and
    lets the sync go on; any other refusal propagates (the tokens themselves are bad)."""
    try:
        organisation = connector.get_organisation()
    except ScopeError as exc:
        logger.warning("tenant %s: organisation not read, the grant lacks %s", tenant.id, exc.scope)
        grants.note_missing(tenant, grants.ORGANISATION, exc.scope)
        return
    grants.note_granted(tenant, grants.ORGANISATION)
    currency, country = organisation.home_currency, organisation.country
    if currency and currency != tenant.base_currency:
        if tenant.base_currency:
            logger.warning("tenant %s home currency changed from %s to %s", tenant.id, tenant.base_currency,
                           currency)
        tenant.base_currency = currency
    if country and country != tenant.country:
        if tenant.country:
            logger.warning("tenant %s country changed from %s to %s", tenant.id, tenant.country, country)
        tenant.country = country


def backfill(session: Session, tenant: Tenant, connector: AccountingConnector, *, now: datetime) -> SyncResult:
    """Full copy of contacts, invoices, payments and credit notes (install, and the periodic sweep)."""
    refresh_organisation(tenant, connector)
    listed = connector.sweep()
    changes = dataclasses.replace(listed, deleted=_unlisted(session, tenant, listed))
    result = apply_changes(session, tenant, changes)
    tenant.last_synced_at = now
    session.flush()
    logger.info("backfilled tenant %s: %s", tenant.id, result.as_dict())
    return result


_DELETABLE: tuple[tuple[d.EntityKind, Any, str], ...] = (
    (d.EntityKind.CONTACT, Customer, "contacts"), (d.EntityKind.INVOICE, Invoice, "invoices"),
    (d.EntityKind.PAYMENT, Payment, "payments"), (d.EntityKind.CREDIT_NOTE, CreditNote, "credit_notes"))


def _unlisted(session: Session, tenant: Tenant, listed: ChangeSet) -> dict[str, list[str]]:
    """Mirrored ids a complete listing no longer contains: deleted on the platform.

    QBO drops a deleted object from its queries, and only CDC reports the deletion; when an incremental
    sync had to fall back to queries (beyond CDC's 30 days or its 1000-object cap) the deletion is never
    reported. The daily backfill reads everything, so an absence there is the deletion."""
    deleted: dict[str, list[str]] = {}
    for kind, model, attribute in _DELETABLE:
        present = {item.remote_id for item in getattr(listed, attribute)}
        mirrored = session.scalars(select(model.remote_id).where(model.tenant_id == tenant.id))
        gone = [remote_id for remote_id in mirrored if remote_id not in present]
        if gone:
            deleted[kind.value] = gone
    # A QBO payment that only applied credit is not a mirrored payment: its absence shows in the allocations.
    applying = {a.remote_id for a in listed.credit_applications}
    sources = session.scalars(select(CreditAllocation.source_id).distinct().where(
        CreditAllocation.tenant_id == tenant.id, CreditAllocation.source_id.is_not(None)))
    gone_sources = [s for s in sources if s is not None and s not in applying]
    if gone_sources:
        payments = deleted.setdefault(d.EntityKind.PAYMENT.value, [])
        payments.extend(s for s in gone_sources if s not in payments)
    return deleted


def sync_incremental(session: Session, tenant: Tenant, connector: AccountingConnector, *,
                     now: datetime) -> SyncResult:
    """Everything changed since the last sync (minus an overlap); a backfill if never synced."""
    if tenant.last_synced_at is None:
        return backfill(session, tenant, connector, now=now)
    if tenant.base_currency is None and grants.ORGANISATION not in grants.missing(tenant):
        refresh_organisation(tenant, connector)  # a refused one is retried by the daily backfill only
    result = apply_changes(session, tenant, connector.changes_since(tenant.last_synced_at - OVERLAP))
    tenant.last_synced_at = now
    session.flush()
    return result


def sync_invoice(session: Session, tenant: Tenant, connector: AccountingConnector, remote_id: str) -> SyncResult:
    """Re-read one invoice (and its contact when new to us) after a webhook; apply deletion if gone."""
    mirror, result = Mirror(session, tenant), SyncResult()
    try:
        invoice = connector.get_invoice(remote_id)
    except NotFoundError:
        result.deleted = mirror.mark_deleted({d.EntityKind.INVOICE.value: [remote_id]})
        return result
    if mirror.customer(invoice.contact_id) is None:
        result.contacts = mirror.upsert_contacts([connector.get_contact(invoice.contact_id)])
    result.invoices = mirror.upsert_invoices([invoice], result)
    mirror.date_settlements(result.touched_invoice_ids)
    return result
