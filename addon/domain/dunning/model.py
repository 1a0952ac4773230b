"""Inputs and outputs of a dunning run: plain dataclasses, filled by the service layer from fresh state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from addon.domain.dunning.policy import Channel, RiskBand, Tone
from addon.domain.dunning.statutory import StatutoryClaim


@dataclass(frozen=True, slots=True)
class DunningInvoice:
    """An open receivable as re-read from the platform right before planning."""

    invoice_id: str
    number: str
    customer_id: str
    currency: str
    amount_due: Decimal
    due_date: date
    issue_date: date
    total: Decimal | None = None
    paid: bool = False
    voided: bool = False
    credited: bool = False  # fully credited by a credit note
    disputed: bool = False
    promise_to_pay_until: date | None = None  # the customer promised to pay by this date
    risk_band: RiskBand | None = None
    billing_email: str | None = None  # the invoice's own billing contact wins over the contact record
    payment_url: str | None = None  # Xero online invoice URL / QBO invoice link


@dataclass(frozen=True, slots=True)
class SendSlot:
    """A local weekday (0 = Monday) and hour after which payments tend to follow reminders."""

    weekday: int | None
    hour: int


@dataclass(frozen=True, slots=True)
class ChaseHold:
    """A credit controller paused chasing this customer (payment plan agreed, key account, in legal hands)."""

    reason: str
    until: date | None = None  # the last day of the hold (tenant's date); None = until someone lifts it

    def applies(self, today: date) -> bool:
        """Whether the hold still stops reminders on ``today``: an expired one lifts itself."""
        return self.until is None or today <= self.until

    @property
    def note(self) -> str:
        """The skip reason: "on hold until 2027-01-15: payment plan agreed"."""
        return f"on hold until {self.until.isoformat()}: {self.reason}" if self.until else f"on hold: {self.reason}"


@dataclass(frozen=True, slots=True)
class DunningCustomer:
    customer_id: str
    name: str
    emails: tuple[str, ...] = ()
    timezone: str | None = None  # IANA name; the tenant's timezone when unknown
    reliable: bool = False  # history says this customer pays on time
    last_reminders: tuple[datetime, ...] = ()  # when earlier reminders were sent (any channel)
    language: str = "en"
    segment: str | None = None
    phone: str | None = None
    send_slot: SendSlot | None = None  # learned by ``learn_send_slots``
    hold: ChaseHold | None = None  # no reminders of any channel while it applies (the worklist still lists them)
    country: str | None = None  # ISO 3166 alpha-2 of the customer's address, as the platform holds it
    # The public holidays of the customer's country (``day -> name or None``), skipped like the organisation's
    # (``DunningSettings.holidays``); the service leaves it None when the country is unknown, has no holiday
    # calendar, or is the organisation's own (whose region, an admin's choice included, then decides).
    holidays: Callable[[date], str | None] | None = None


@dataclass(frozen=True, slots=True)
class SentStage:
    """History: this stage already fired (or was claimed) for this invoice."""

    invoice_id: str
    stage_key: str


@dataclass(frozen=True, slots=True)
class DunningSettings:
    """Tenant-wide knobs (the settings page edits these)."""

    enabled: bool = True
    timezone: str = "Europe/London"  # tenant default when a customer has none
    send_hour: int = 9  # tenant default local send time when nothing was learned
    quiet_start: time = time(20, 0)  # no reminders from this local time ...
    quiet_end: time = time(8, 0)  # ... until this local time
    business_days_only: bool = True
    frequency_cap: int = 2  # at most this many reminders per customer ...
    frequency_window: timedelta = timedelta(days=7)  # ... in this rolling window
    max_slot_wait: timedelta = timedelta(days=2)  # how long we may wait for a learned weekday
    sms_enabled: bool = False
    statutory_pack: str | None = None  # "uk" or "eu"; None = never show statutory claims
    reference_rates: tuple[tuple[date, Decimal], ...] = ()  # (effective from, % p.a.) for the pack
    # The name of the public holiday on a local day, or None: the service builds it from the tenant's
    # holiday country (the engine stays pure). With ``business_days_only``, holidays are skipped like weekends.
    holidays: Callable[[date], str | None] | None = None

    def holiday(self, day: date) -> str | None:
        """The public holiday on ``day`` that stops reminders (None on a working day, or when off)."""
        if not self.business_days_only or self.holidays is None:
            return None
        return self.holidays(day)


@dataclass(frozen=True, slots=True)
class ActionLine:
    """One invoice inside a consolidated reminder, with the stage it is at and why."""

    invoice_id: str
    number: str
    stage_key: str
    tone: Tone
    amount_due: Decimal
    currency: str
    due_date: date
    days_overdue: int
    payment_url: str | None
    reason: str
    statutory: StatutoryClaim | None = None


@dataclass(frozen=True, slots=True)
class ReminderAction:
    """One reminder for one customer in one run, consolidating all their due/overdue invoices."""

    customer_id: str
    channel: Channel
    stage_key: str  # the most advanced stage among the lines
    tone: Tone
    template: str
    language: str
    send_at: datetime  # UTC
    recipients: tuple[str, ...]
    lines: tuple[ActionLine, ...]
    reason: str
    needs_approval: bool
    exactly_once_keys: tuple[str, ...]
    reliable_payer: bool = False  # templates may thank the customer for their record

    @property
    def invoice_ids(self) -> tuple[str, ...]:
        return tuple(line.invoice_id for line in self.lines)

    @property
    def action_key(self) -> str:
        """Stable id of this action: the same invoices at the same stages give the same key."""
        return f"{self.customer_id}/{self.channel}/" + ",".join(sorted(self.exactly_once_keys))


@dataclass(frozen=True, slots=True)
class Skip:
    """An invoice not chased in this run, and why (for the audit log and the preview)."""

    invoice_id: str
    customer_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class DunningPlan:
    actions: tuple[ReminderAction, ...]
    skipped: tuple[Skip, ...] = field(default=())


def exactly_once_key(invoice_id: str, stage_key: str) -> str:
    """The key the database enforces as unique: a stage never fires twice for an invoice."""
    return f"{invoice_id}:{stage_key}"
