"""Carry out one planned ReminderAction exactly once: claim its keys (committed before any mail or SMS
leaves), send, record the outcome, write the ERP notes and the audit log.

The claim is the one place a service commits: the unique (tenant_id, exactly_once_key) rows must be
durable *before* the SMTP conversation (or the SMS provider's request), otherwise a worker killed after
sending could send again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol

from jinja2.exceptions import TemplateError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from addon.domain.dunning import Channel, Policy, ReminderAction, reminder_notes
from addon.domain.dunning.preview import reminder_note, reminder_outcome
from addon.mail import (
    BounceKind,
    Company,
    MailAuthError,
    MailDeferredError,
    MailRejectedError,
    MailSettings,
    MailUnavailableError,
    SendResult,
    SmtpSender,
    TemplateSource,
    UnsubscribeTokens,
    compose_reminder,
)
from addon.mail.sms import (
    DisabledSmsProvider,
    SmsAuthError,
    SmsInvalidNumberError,
    SmsProvider,
    SmsReceipt,
    SmsRejectedError,
    SmsStoppedError,
    SmsUnavailableError,
    sms_provider_from_config,
)
from addon.mail.sms_compose import compose_sms
from addon.models import AuditLog, DunningAction, Suppression, Tenant
from addon.services.dunning_inputs import RETRY, Ledger, split_key
from connectors.base import AccountingConnector
from connectors.errors import ConnectorError

logger = logging.getLogger(__name__)

# A reminder the mail server keeps deferring is tried on this many runs in all, waiting RETRY_BACKOFF[n-1]
# after the n-th deferral, then fails for good (each try already includes SmtpSender's quick retries).
MAX_SEND_ATTEMPTS = 4
RETRY_BACKOFF = (timedelta(hours=1), timedelta(hours=4), timedelta(hours=12))
# Rows a run may take over with a conditional UPDATE (never two workers: see _take_over).
TAKEABLE = ("approved", RETRY)


class Sender(Protocol):
    def send(self, message: EmailMessage) -> SendResult: ...


@dataclass(frozen=True)
class DunningMailer:
    """How reminders leave: an SMTP sender, the mail settings, the unsubscribe link maker and the SMS
    provider (disabled unless SMS_PROVIDER names one)."""

    sender: Sender
    settings: MailSettings
    tokens: UnsubscribeTokens
    public_url: str
    sms: SmsProvider = field(default_factory=DisabledSmsProvider)

    @classmethod
    def from_config(cls, config: Any) -> DunningMailer:
        """Built from the app config (SMTP_* / MAIL_FROM, SECRET_KEY, PUBLIC_URL, SMS_PROVIDER / TWILIO_*)."""
        settings = MailSettings.from_env(config)
        return cls(SmtpSender(settings), settings, UnsubscribeTokens(str(config["SECRET_KEY"])),
                   str(config.get("PUBLIC_URL") or "http://127.0.0.1:5000"), sms_provider_from_config(config))

    @property
    def sms_enabled(self) -> bool:
        """An SMS provider is configured: the planner may choose SMS for ``sms`` stages."""
        return not isinstance(self.sms, DisabledSmsProvider)

    def unsubscribe_url(self, tenant: Tenant, customer_remote_id: str) -> str:
        return self.tokens.url(self.public_url, str(tenant.id), customer_remote_id)


class MailConfigurationError(RuntimeError):
    """SMTP refused our credentials or TLS: stop the run, nothing more can be sent."""


@dataclass
class Execution:
    """Everything one action needs besides the action itself."""

    session: Session
    tenant: Tenant
    connector: AccountingConnector
    now: datetime
    mailer: DunningMailer
    ledger: Ledger
    policy: Policy
    templates: dict[tuple[str, str], TemplateSource]
    actor: str = "job:dunning"


@dataclass(frozen=True)
class Claimed:
    """An action whose exactly-once keys this run holds (claim committed): what ``deliver`` carries out."""

    action: ReminderAction
    rows: list[DunningAction]
    prior: dict[int, str]  # each taken-over row's status before the claim (a release puts it back)


def execute(ex: Execution, action: ReminderAction) -> str:
    """Run one action; returns its outcome: sent, task, awaiting_approval, deferred, retry, retry_later,
    failed, sms_stopped, claimed_elsewhere."""
    step = prepare(ex, action)
    return step if isinstance(step, str) else deliver(ex, step)


def prepare(ex: Execution, action: ReminderAction) -> Claimed | str:
    """Decide and claim: the part of an action that must see the mirror as it is (the run holds the tenant's
    lock around it). Commits the claim; the outcome instead when there is nothing to deliver (retry_later,
    awaiting_approval, claimed_elsewhere)."""
    existing = {r.exactly_once_key: r for r in ex.session.scalars(select(DunningAction).where(
        DunningAction.tenant_id == ex.tenant.id, DunningAction.exactly_once_key.in_(action.exactly_once_keys)))}
    if any(r.status == RETRY and r.retry_at is not None and r.retry_at > ex.now for r in existing.values()):
        return "retry_later"  # deferred by the mail server: wait out the back-off
    # A row waiting for a retry was approved before its first try (or never needed approval).
    approved = bool(existing) and set(existing) == set(action.exactly_once_keys) and all(
        r.status in TAKEABLE for r in existing.values())
    if action.needs_approval and not approved:
        return _await_approval(ex, action, existing)
    # The stage no longer needs approval (an admin switched it off): what waited for it is released.
    waived = [k for k, r in existing.items() if r.status == "awaiting_approval" and not action.needs_approval]
    status = "task" if action.channel is Channel.TASK else "sending"
    prior = {r.id: r.status for r in existing.values()}  # read before claim() refreshes the rows
    rows = claim(ex, action, existing, status, takeable=(*TAKEABLE, "awaiting_approval") if waived else TAKEABLE)
    if rows is None:
        return "claimed_elsewhere"
    if waived:
        _audit(ex, action, "reminder.approval_no_longer_needed", {"keys": waived})
    return Claimed(action, rows, prior)


def deliver(ex: Execution, claimed: Claimed) -> str:
    """Send a claimed action and record the outcome. Reads and writes no mirror table (only dunning_actions,
    suppressions, the audit log and the ERP's notes), so the run does it without the tenant's lock: a slow
    mail server no longer holds up the tenant's sync. The committed claim keeps it exactly once."""
    action, rows, prior = claimed.action, claimed.rows, claimed.prior
    if action.channel is Channel.TASK:
        _audit(ex, action, "reminder.task", {"channel": str(action.channel)})
        _write_notes(ex, action, rows)
        return "task"
    if action.channel is Channel.SMS:
        return _send_sms(ex, action, rows, prior)
    return _send(ex, action, rows, prior)


def _row(ex: Execution, action: ReminderAction, key: str, status: str) -> DunningAction:
    invoice_remote_id, stage_key = split_key(key)
    line = next(ln for ln in action.lines if ln.invoice_id == invoice_remote_id)
    invoice = ex.ledger.invoice_rows.get(invoice_remote_id)
    customer = ex.ledger.customer_rows.get(action.customer_id)
    return DunningAction(
        tenant_id=ex.tenant.id, exactly_once_key=key, invoice_id=invoice.id if invoice else None,
        customer_id=customer.id if customer else None, stage_key=stage_key, tone=str(line.tone),
        channel=str(action.channel), status=status, recipient=", ".join(action.recipients)[:320] or None,
        reason=f"{line.reason} | {action.reason}", send_at=action.send_at)


def _await_approval(ex: Execution, action: ReminderAction, existing: dict[str, DunningAction]) -> str:
    missing = [k for k in action.exactly_once_keys if k not in existing]
    for key in missing:
        ex.session.add(_row(ex, action, key, "awaiting_approval"))
    if missing:
        _audit(ex, action, "reminder.awaiting_approval", {"keys": missing})
    try:
        ex.session.commit()
    except IntegrityError:  # another worker queued it at the same moment: same outcome
        ex.session.rollback()
    return "awaiting_approval"


def claim(ex: Execution, action: ReminderAction, existing: dict[str, DunningAction],
          status: str, takeable: tuple[str, ...] = TAKEABLE) -> list[DunningAction] | None:
    """Insert (or take over rows in a ``takeable`` status: approved / retry) rows for every key and COMMIT;
    None if someone else holds a key."""
    rows: list[DunningAction] = []
    try:
        for key in action.exactly_once_keys:
            row = existing.get(key)
            if row is None:
                row = _row(ex, action, key, status)
                ex.session.add(row)
                ex.session.flush()  # the unique constraint fires here if another worker claimed the key
            elif not _take_over(ex, row, action, status, takeable):
                ex.session.rollback()
                return None
            rows.append(row)
        ex.session.commit()
    except IntegrityError:
        ex.session.rollback()
        logger.info("action %s already claimed by another run", action.action_key)
        return None
    for row in rows:
        ex.session.refresh(row)
    return rows


def _take_over(ex: Execution, row: DunningAction, action: ReminderAction, status: str,
               takeable: tuple[str, ...]) -> bool:
    """Conditional update: only one worker can move an approved or retry row on (the others see rowcount 0)."""
    taken = ex.session.execute(update(DunningAction).where(
        DunningAction.id == row.id, DunningAction.status.in_(takeable)).values(
        status=status, send_at=action.send_at, recipient=", ".join(action.recipients)[:320] or None))
    return bool(taken.rowcount == 1)  # type: ignore[attr-defined]


def _send(ex: Execution, action: ReminderAction, rows: list[DunningAction], prior: dict[int, str]) -> str:
    customer = ex.ledger.customer_rows.get(action.customer_id)
    try:
        message = compose_reminder(
            action, settings=ex.mailer.settings, company=Company(ex.tenant.name),
            customer_name=customer.name if customer else action.customer_id, tenant_key=str(ex.tenant.id),
            unsubscribe_url=ex.mailer.unsubscribe_url(ex.tenant, action.customer_id), sent_at=ex.now,
            templates=ex.templates)
        result = ex.mailer.sender.send(message)
    except MailDeferredError as exc:  # before MailUnavailableError, its base class
        return _retry_later(ex, action, rows, str(exc))
    except MailUnavailableError as exc:
        # Server unreachable: nothing about this reminder, so no attempt is counted against it.
        return _release(ex, action, rows, "deferred", str(exc), prior)
    except MailAuthError as exc:
        _release(ex, action, rows, "deferred", str(exc), prior)
        raise MailConfigurationError(str(exc)) from exc
    except TemplateError as exc:
        # A template saved before validation existed, or broken data: retry after someone fixes it.
        return _release(ex, action, rows, "failed", f"template error: {exc}", prior)
    except MailRejectedError as exc:
        hard = _suppress(ex, exc.bounces)
        if hard:  # the next run plans again without those addresses (another address, or a task)
            return _release(ex, action, rows, "failed", str(exc), prior)
        # Refused for good, and not because of an address we could drop: failed at once, and the
        # failed row is listed on the collections worklist (open_tasks) for a call or a letter.
        return _fail(ex, action, rows, str(exc))
    _suppress(ex, result.bounces)
    return _mark(ex, action, rows, "sent", result=result)


def _send_sms(ex: Execution, action: ReminderAction, rows: list[DunningAction], prior: dict[int, str]) -> str:
    """Text the reminder; the same claim / outcome / audit flow as e-mail. The planner only chooses SMS with
    a configured provider and a mobile number that is not suppressed, so ``recipients`` is that number."""
    customer = ex.ledger.customer_rows.get(action.customer_id)
    to = action.recipients[0] if action.recipients else ""
    try:
        text = compose_sms(action, company=Company(ex.tenant.name),
                           customer_name=customer.name if customer else action.customer_id,
                           unsubscribe_url=ex.mailer.unsubscribe_url(ex.tenant, action.customer_id),
                           today=ex.now.date(), templates=ex.templates)
        receipt = ex.mailer.sms.send(to, text, idempotency_key=action.action_key)
    except TemplateError as exc:
        return _release(ex, action, rows, "failed", f"template error: {exc}", prior)
    except SmsUnavailableError as exc:
        # The provider is down or busy: nothing was sent; the next run plans the action again.
        return _release(ex, action, rows, "deferred", str(exc), prior)
    except SmsAuthError as exc:
        _release(ex, action, rows, "deferred", str(exc), prior)
        raise MailConfigurationError(f"SMS provider: {exc}") from exc
    except SmsStoppedError as exc:
        # The customer replied STOP: never text that number again (like an unsubscribe). The keys go back,
        # so the next run plans the reminder again, by e-mail.
        _suppress_number(ex, to, "sms_stop")
        return _release(ex, action, rows, "sms_stopped", str(exc), prior)
    except SmsInvalidNumberError as exc:
        # This reminder fails onto the worklist (someone should correct the number in the ERP); the number
        # is suppressed so later stages e-mail instead of failing the same way.
        _suppress_number(ex, to, "sms_invalid")
        return _fail(ex, action, rows, f"invalid mobile number {to}: {exc}")
    except SmsRejectedError as exc:
        return _fail(ex, action, rows, str(exc))
    return _mark(ex, action, rows, "sent", sms=receipt)


def _fail(ex: Execution, action: ReminderAction, rows: list[DunningAction], error: str) -> str:
    """Refused for good: failed at once, and listed on the collections worklist (open_tasks)."""
    for row in rows:
        row.attempts += 1
    return _mark(ex, action, rows, "failed", error=error, extra={"worklist": True})


def _suppress_number(ex: Execution, number: str, reason: str) -> None:
    """Put a mobile number (E.164) on the SMS suppression list."""
    add_suppressions(ex.session, ex.tenant.id, "sms", [number], reason)


def add_suppressions(session: Session, tenant_id: int, channel: str, addresses: Iterable[str],
                     reason: str) -> list[str]:
    """Put ``addresses`` on the tenant's suppression list of ``channel`` ('email' or 'sms'); returns those
    that were not on it yet, sorted."""
    wanted = sorted({a for a in addresses if a})
    if not wanted:
        return []
    known = set(session.scalars(select(Suppression.address).where(
        Suppression.tenant_id == tenant_id, Suppression.channel == channel, Suppression.address.in_(wanted))))
    added = [a for a in wanted if a not in known]
    for address in added:
        session.add(Suppression(tenant_id=tenant_id, channel=channel, address=address, reason=reason))
    session.flush()
    return added


def _release(ex: Execution, action: ReminderAction, rows: list[DunningAction], outcome: str, error: str,
             prior: dict[int, str]) -> str:
    """Give the keys back so a later run plans the action again (nothing was accepted by the server).
    Rows taken over go back to what they were (an admin's approval, a retry's attempt count); new ones go."""
    for status in set(prior.values()):
        ids = [r.id for r in rows if prior.get(r.id) == status]
        ex.session.execute(update(DunningAction).where(DunningAction.id.in_(ids)).values(status=status))
    ex.session.execute(delete(DunningAction).where(DunningAction.id.in_([r.id for r in rows if r.id not in prior])))
    _audit(ex, action, f"reminder.{outcome}", {"error": error})
    ex.session.commit()
    logger.warning("reminder %s not sent (%s): %s", action.action_key, outcome, error)
    return outcome


def _retry_later(ex: Execution, action: ReminderAction, rows: list[DunningAction], error: str) -> str:
    """The server said "try later": keep the claim as a ``retry`` row due after a back-off, or fail it for
    good once MAX_SEND_ATTEMPTS tries were deferred. The rows are never deleted, so the count survives."""
    attempts = max(r.attempts for r in rows) + 1
    if attempts >= MAX_SEND_ATTEMPTS:
        for row in rows:
            row.attempts = attempts
        return _mark(ex, action, rows, "failed", error=f"gave up after {attempts} attempts: {error}",
                     extra={"attempts": attempts})
    retry_at = ex.now + RETRY_BACKOFF[min(attempts, len(RETRY_BACKOFF)) - 1]
    for row in rows:
        row.status, row.error, row.attempts, row.retry_at = RETRY, error, attempts, retry_at
    _audit(ex, action, "reminder.retry_scheduled", {"status": RETRY, "error": error, "attempts": attempts,
                                                    "retry_at": retry_at.isoformat()})
    ex.session.commit()
    logger.warning("reminder %s deferred (attempt %d), retry at %s: %s", action.action_key, attempts,
                   retry_at.isoformat(), error)
    return RETRY


def _mark(ex: Execution, action: ReminderAction, rows: list[DunningAction], status: str, *,
          result: SendResult | None = None, sms: SmsReceipt | None = None, error: str | None = None,
          extra: dict[str, Any] | None = None) -> str:
    for row in rows:
        row.status, row.error, row.retry_at = status, error, None
        if result is not None:
            row.message_id, row.sent_at = result.message_id[:255], ex.now
            row.recipient = ", ".join(result.accepted)[:320]
        if sms is not None:
            row.message_id, row.sent_at = f"{sms.provider}:{sms.provider_id}"[:255], ex.now
    after: dict[str, Any] = {"status": status, **(extra or {})}
    if result is not None:
        after |= {"message_id": result.message_id, "accepted": list(result.accepted),
                  "refused": sorted(result.refused)}
    if sms is not None:
        after |= {"provider": sms.provider, "provider_id": sms.provider_id}
    _audit(ex, action, "reminder.sent" if status == "sent" else "reminder.failed", after | {"error": error})
    ex.session.commit()  # the send is recorded before the (slower, retryable) ERP writes
    if status == "sent":
        _write_notes(ex, action, rows)
    return status


def _suppress(ex: Execution, bounces: dict[str, BounceKind]) -> list[str]:
    hard = sorted({a.strip().lower() for a, kind in bounces.items() if kind is BounceKind.HARD})
    add_suppressions(ex.session, ex.tenant.id, "email", hard, "hard_bounce")
    return hard


def _write_notes(ex: Execution, action: ReminderAction, rows: Sequence[DunningAction]) -> None:
    """The ERP note per invoice, idempotent on the exactly-once key; a failure is kept for the next run."""
    notes = reminder_notes(action, ex.policy)
    by_invoice = {split_key(r.exactly_once_key)[0]: r for r in rows}
    for invoice_id, text in notes.items():
        row = by_invoice.get(invoice_id)
        if row is None:
            continue
        try:
            ex.connector.add_invoice_note(invoice_id, text, idempotency_key=row.exactly_once_key)
        except ConnectorError as exc:
            row.error = f"{NOTE_FAILED}{exc}"
            logger.warning("could not write the reminder note on %s: %s", invoice_id, exc)
        else:
            row.error = None if (row.error or "").startswith(NOTE_FAILED) else row.error
    ex.session.commit()


NOTE_FAILED = "erp note failed: "


def retry_notes(ex: Execution, rows: Sequence[DunningAction]) -> int:
    """Write ERP notes that failed earlier (same idempotency key, so never twice); returns how many."""
    done = 0
    for row in rows:
        try:
            ex.connector.add_invoice_note(split_key(row.exactly_once_key)[0], _note_text(ex, row),
                                          idempotency_key=row.exactly_once_key)
        except ConnectorError as exc:
            row.error = f"{NOTE_FAILED}{exc}"
        else:
            row.error, done = None, done + 1
    ex.session.commit()
    return done


def _note_text(ex: Execution, row: DunningAction) -> str:
    outcome = reminder_outcome(Channel(row.channel), row.recipient or "")
    return reminder_note(ex.policy, row.stage_key, row.tone, outcome)


def _audit(ex: Execution, action: ReminderAction, what: str, after: dict[str, Any]) -> None:
    for line in action.lines:
        ex.session.add(AuditLog(
            tenant_id=ex.tenant.id, actor=ex.actor, action=what, object_type="invoice", object_id=line.invoice_id,
            before=None, after={"stage": line.stage_key, "tone": str(line.tone), "channel": str(action.channel),
                                "recipients": list(action.recipients), "send_at": action.send_at.isoformat(),
                                **after},
            reason=f"{line.reason} | {action.reason}"))
