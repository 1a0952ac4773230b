"""Engine inputs from the database: open invoices, customers, risk bands, what was already sent (history)
and the suppression list. Engine ids are the platform's remote ids, so exactly-once keys and ERP notes
name the invoice the way the ERP does."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from addon.domain.dunning import DunningCustomer, DunningInvoice, DunningSettings, RiskBand, SentStage
from addon.domain.dunning.model import SendSlot
from addon.domain.dunning.sendtime import ReminderOutcome, learn_send_slots
from addon.models import Customer, DunningAction, Invoice, RiskScore, Suppression, Tenant
from addon.services.dunning_holds import holds_for, to_chase_hold
from addon.services.dunning_holidays import customer_holiday_lookups, home_countries
from addon.services.dunning_policies import ensure_default_policy, tenant_timezone

# Rows in these states do not block the planner: the action is planned again each run and sent once an
# admin has approved it (the keys are then claimed by updating the rows, see dunning_send.claim).
PENDING_APPROVAL = ("awaiting_approval", "approved")
# A reminder the mail server deferred ("try later") is not history either: it is planned again and sent
# once its retry_at has passed (dunning_send takes the row over the same way as an approved one).
RETRY = "retry"
NOT_HISTORY = (*PENDING_APPROVAL, RETRY)
# Reminders that count against the per-customer frequency cap.
COUNTED = ("sent", "sending")
RELIABLE_MIN_PAID = 3  # paid invoices needed before a history can be called reliable
RELIABLE_ON_TIME_SHARE = 0.9
CAP_LOOKBACK = timedelta(days=60)


@dataclass
class Ledger:
    """Engine inputs plus lookups from remote ids back to the rows."""

    invoices: list[DunningInvoice] = field(default_factory=list)
    customers: list[DunningCustomer] = field(default_factory=list)
    history: list[SentStage] = field(default_factory=list)
    suppressed: set[str] = field(default_factory=set)
    invoice_rows: dict[str, Invoice] = field(default_factory=dict)
    customer_rows: dict[str, Customer] = field(default_factory=dict)
    customer_names: dict[str, str] = field(default_factory=dict)


class _CustomerColumns(Protocol):
    """What the planner reads of a customer: an ORM ``Customer`` or a plain row of these columns."""

    @property
    def id(self) -> int: ...
    @property
    def remote_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def emails(self) -> list[Any] | None: ...
    @property
    def mobile(self) -> str | None: ...
    @property
    def timezone(self) -> str | None: ...
    @property
    def country(self) -> str | None: ...


class _InvoiceColumns(Protocol):
    """What the planner reads of an invoice: an ORM ``Invoice`` or a plain row of these columns."""

    @property
    def remote_id(self) -> str: ...
    @property
    def number(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def amount_due(self) -> Decimal: ...
    @property
    def due_date(self) -> date: ...
    @property
    def issue_date(self) -> date: ...
    @property
    def total(self) -> Decimal: ...
    @property
    def status(self) -> str: ...
    @property
    def amount_credited(self) -> Decimal: ...
    @property
    def disputed(self) -> bool: ...
    @property
    def promised_on(self) -> date | None: ...
    @property
    def billing_email(self) -> str | None: ...
    @property
    def online_url(self) -> str | None: ...


# Only the columns the planner reads: building an ORM object per invoice (and decoding every JSON column of
# the joined customer once per invoice) was most of a big tenant's dry run (docs/dunning.md, "Speed").
_INVOICE_COLUMNS = (Invoice.remote_id, Invoice.number, Invoice.currency, Invoice.amount_due, Invoice.due_date,
                    Invoice.issue_date, Invoice.total, Invoice.status, Invoice.amount_credited, Invoice.disputed,
                    Invoice.promised_on, Invoice.billing_email, Invoice.online_url)
_CUSTOMER_COLUMNS = (Customer.id, Customer.remote_id, Customer.name, Customer.emails, Customer.timezone,
                     Customer.mobile, Customer.country)


def split_key(key: str) -> tuple[str, str]:
    """(invoice id, stage key) from an exactly-once key ``"{invoice_id}:{stage_key}"``."""
    invoice_id, _, stage_key = key.rpartition(":")
    return invoice_id, stage_key


def load_ledger(session: Session, tenant: Tenant, now: datetime,
                customer_remote_ids: Collection[str] | None = None, *, fresh: bool = False) -> Ledger:
    """Open invoices and their customers (optionally only some customers) as engine inputs.

    ``fresh``: overwrite rows the session already holds with what the database says now. Sessions keep
    objects across commits (expire_on_commit=False), so without it a dispute or promise committed by
    someone else since the run's first read would not be seen by the check right before sending."""
    query = (select(Invoice, Customer, RiskScore.band)
             .join(Customer, Customer.id == Invoice.customer_id)
             .outerjoin(RiskScore, RiskScore.invoice_id == Invoice.id)
             .where(Invoice.tenant_id == tenant.id, Invoice.status == "open", Invoice.amount_due > 0))
    if customer_remote_ids is not None:
        query = query.where(Customer.remote_id.in_(list(customer_remote_ids)))
    if fresh:
        query = query.execution_options(populate_existing=True)
    ledger = Ledger()
    for inv, customer, band in session.execute(query):
        ledger.invoice_rows[inv.remote_id] = inv
        ledger.customer_rows[customer.remote_id] = customer
        ledger.invoices.append(to_dunning_invoice(inv, customer.remote_id, band))
    _finish(session, tenant, now, ledger, list(ledger.customer_rows.values()))
    return ledger


def load_plan_ledger(session: Session, tenant: Tenant, now: datetime) -> Ledger:
    """The same engine inputs as ``load_ledger`` for the whole tenant, read as plain rows of the columns the
    planner needs: for planning only (the dry run, a run's first plan). ``invoice_rows`` and
    ``customer_rows`` stay empty; ``customer_names`` names the customers. Sending works on a customer's
    ``load_ledger(..., fresh=True)``, which holds the rows it updates."""
    query = (select(*_INVOICE_COLUMNS, Invoice.customer_id, RiskScore.band)
             .join(Customer, Customer.id == Invoice.customer_id)
             .outerjoin(RiskScore, RiskScore.invoice_id == Invoice.id)
             .where(Invoice.tenant_id == tenant.id, Invoice.status == "open", Invoice.amount_due > 0))
    rows = session.execute(query).all()
    customers = {c.id: c for c in session.execute(select(*_CUSTOMER_COLUMNS).where(
        Customer.tenant_id == tenant.id, Customer.id.in_({row.customer_id for row in rows})))}
    ledger = Ledger()
    seen: dict[int, _CustomerColumns] = {}  # in order of first invoice, as load_ledger lists them
    for row in rows:
        customer = customers.get(row.customer_id)
        if customer is None:
            continue  # deleted between the two reads: its invoices have no customer now (ON DELETE SET NULL)
        seen.setdefault(customer.id, customer)
        ledger.invoices.append(to_dunning_invoice(row, customer.remote_id, row.band))
    _finish(session, tenant, now, ledger, list(seen.values()))
    return ledger


def _finish(session: Session, tenant: Tenant, now: datetime, ledger: Ledger,
            customers: Sequence[_CustomerColumns]) -> None:
    """History, suppression list and the customers' engine view: the same for both loaders."""
    ledger.customer_names = {c.remote_id: c.name for c in customers}
    ledger.history = _history(session, tenant)
    # Both lists in one set: e-mail addresses block email, E.164 numbers block SMS (the two never look alike).
    ledger.suppressed = set(session.scalars(select(Suppression.address).where(Suppression.tenant_id == tenant.id)))
    ledger.customers = _customers(session, tenant, customers, now)


def to_dunning_invoice(inv: _InvoiceColumns, customer_remote_id: str, band: str | None) -> DunningInvoice:
    """The engine's view of a mirrored invoice (disputes and promises are recorded by our users)."""
    return DunningInvoice(
        invoice_id=inv.remote_id, number=inv.number, customer_id=customer_remote_id, currency=inv.currency,
        amount_due=inv.amount_due, due_date=inv.due_date, issue_date=inv.issue_date, total=inv.total,
        paid=inv.status == "paid", voided=inv.status in ("voided", "deleted"),
        credited=inv.amount_credited >= inv.total > 0 and inv.amount_due <= 0, disputed=inv.disputed,
        promise_to_pay_until=inv.promised_on, risk_band=_band(band), billing_email=inv.billing_email,
        payment_url=inv.online_url)


def _band(value: str | None) -> RiskBand | None:
    try:
        return RiskBand(value) if value else None
    except ValueError:
        return None  # a band the engine does not know counts as unscored (treated as medium)


def _history(session: Session, tenant: Tenant) -> list[SentStage]:
    keys = session.scalars(select(DunningAction.exactly_once_key).where(
        DunningAction.tenant_id == tenant.id, DunningAction.status.not_in(NOT_HISTORY)))
    return [SentStage(*split_key(k)) for k in keys]


def _customers(session: Session, tenant: Tenant, rows: Sequence[_CustomerColumns],
               now: datetime) -> list[DunningCustomer]:
    ids = [c.id for c in rows]
    reliable = _reliable(session, tenant, ids)
    recent = _recent_reminders(session, tenant, ids, now)
    slots = _send_slots(session, tenant, rows)
    holds = {cid: to_chase_hold(hold) for cid, hold in holds_for(session, tenant, ids).items()}
    holidays = _customer_holidays(session, tenant, rows)
    return [DunningCustomer(customer_id=c.remote_id, name=c.name, emails=tuple(str(e) for e in c.emails or ()),
                            timezone=c.timezone, reliable=c.id in reliable, phone=c.mobile,
                            last_reminders=tuple(sorted(recent.get(c.id, ()))), send_slot=slots.get(c.remote_id),
                            hold=holds.get(c.id), country=c.country,
                            holidays=holidays.get(c.country) if c.country else None)
            for c in rows]


def _customer_holidays(session: Session, tenant: Tenant, rows: Sequence[_CustomerColumns]
                       ) -> dict[str, Callable[[date], str | None]]:
    """Each customer country's public holidays (one calendar per country), but the organisation's own."""
    options = ensure_default_policy(session, tenant).options or {}
    home = home_countries(options, str(options.get("timezone") or DunningSettings().timezone), tenant.country)
    return customer_holiday_lookups((c.country for c in rows), home)


def _send_slots(session: Session, tenant: Tenant, rows: Sequence[_CustomerColumns]) -> dict[str, SendSlot]:
    """Send-time optimisation: per customer, the local weekday/hour after which payment tended to follow."""
    remote = {c.id: c.remote_id for c in rows}
    sent = session.execute(select(DunningAction.customer_id, DunningAction.sent_at, Invoice.fully_paid_on)
                           .join(Invoice, Invoice.id == DunningAction.invoice_id)
                           .where(DunningAction.tenant_id == tenant.id, DunningAction.status == "sent",
                                  DunningAction.sent_at.is_not(None), DunningAction.customer_id.in_(list(remote))))
    # Payments are known to the day: count them at the end of the business day they were recorded.
    outcomes = [ReminderOutcome(remote[cid], sent_at,
                                datetime.combine(paid_on, time(17), tzinfo=UTC) if paid_on else None)
                for cid, sent_at, paid_on in sent if cid in remote and sent_at is not None]
    zones = {c.remote_id: c.timezone for c in rows}
    # A customer without a timezone of its own is read in the tenant's, the one the planner schedules in.
    return learn_send_slots(outcomes, zones, tenant_timezone(session, tenant))


def _reliable(session: Session, tenant: Tenant, customer_ids: list[int]) -> set[int]:
    """Customers with enough paid invoices, nearly all paid by their due date."""
    paid: dict[int, list[bool]] = defaultdict(list)
    rows = session.execute(select(Invoice.customer_id, Invoice.due_date, Invoice.fully_paid_on).where(
        Invoice.tenant_id == tenant.id, Invoice.status == "paid", Invoice.customer_id.in_(customer_ids)))
    for customer_id, due, paid_on in rows:
        if customer_id is not None and paid_on is not None:
            paid[customer_id].append(paid_on <= due)
    return {cid for cid, on_time in paid.items()
            if len(on_time) >= RELIABLE_MIN_PAID and sum(on_time) / len(on_time) >= RELIABLE_ON_TIME_SHARE}


def _recent_reminders(session: Session, tenant: Tenant, customer_ids: list[int],
                      now: datetime) -> dict[int, set[datetime]]:
    """When each customer was last reminded; rows of one action share one send time, so a set dedupes."""
    out: dict[int, set[datetime]] = defaultdict(set)
    rows = session.execute(select(DunningAction.customer_id, DunningAction.sent_at, DunningAction.send_at).where(
        DunningAction.tenant_id == tenant.id, DunningAction.status.in_(COUNTED),
        DunningAction.channel != "task", DunningAction.customer_id.in_(customer_ids)))
    for customer_id, sent_at, send_at in rows:
        when = sent_at or send_at
        if customer_id is not None and when is not None and now - CAP_LOOKBACK <= when <= now:
            out[customer_id].add(when)
    return out
