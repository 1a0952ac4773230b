"""Webhook deliveries: store first, acknowledge, then process in a job (nothing is lost).

The HTTP view only verifies, stores and enqueues. Processing re-reads the changed entities from the
platform (webhook payloads are notifications, not data) and applies them through the sync service.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, LargeBinary, bindparam, func, or_, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from addon.domain.types import ChangeEvent, EntityKind
from addon.models import Tenant, TenantStatus, WebhookEvent, WebhookStatus
from addon.models.base import UTCDateTime
from addon.services import sync
from connectors.base import AccountingConnector, connector_class
from connectors.errors import AuthError

logger = logging.getLogger(__name__)

SIGNATURE_HEADERS = {"xero": "x-xero-signature", "qbo": "intuit-signature", "fake": "x-fake-signature"}
ENQUEUE_BATCH = 1000  # deliveries queued per dispatcher/sweeper round
STUCK_AFTER = timedelta(minutes=10)  # a QUEUED event older than this lost its job (e.g. Redis flushed)


class TenantRefused(Exception):
    """The platform refused one tenant's tokens while a delivery was applied (revoked on its side).

    Raised instead of the AuthError so the job can mark that tenant ``needs_reauth`` and apply the
    delivery again without it: the other realms of a multi-realm QBO delivery must not fail with it."""

    def __init__(self, tenant_id: int, cause: AuthError) -> None:
        super().__init__(f"tenant {tenant_id}: {cause}")
        self.tenant_id = tenant_id
        self.cause = cause


class WebhookRejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def verify_and_parse(platform: str, raw_body: bytes, signature: str | None, key: str) -> list[ChangeEvent]:
    """Check the signature over the raw bytes, then parse. Raises WebhookRejected(401|400)."""
    cls = connector_class(platform)
    if not key or not cls.verify_webhook(raw_body, signature, key):
        raise WebhookRejected(401, "bad signature")
    try:
        return cls.parse_webhook(raw_body)
    except ValueError as exc:
        raise WebhookRejected(400, f"malformed payload: {exc}") from exc


# Built once: webhook ingest is the hottest path in the app. Valid SQL on PostgreSQL and SQLite >= 3.35.
_STORE_DELIVERY = text(
    "INSERT INTO webhook_events (platform, dedupe_key, raw_body, received_at, status, attempts) "
    "VALUES (:platform, :dedupe_key, :raw_body, :now, :status, 0) "
    "ON CONFLICT (platform, dedupe_key) DO NOTHING RETURNING id",
).bindparams(bindparam("raw_body", type_=LargeBinary()), bindparam("now", type_=UTCDateTime()))


def store_delivery(engine: Engine, platform: str, raw_body: bytes, *, now: datetime) -> int | None:
    """Persist a delivery once, as RECEIVED (the dispatcher queues it). Returns the new id, or None
    for a duplicate delivery.

    One autocommitted INSERT ... ON CONFLICT DO NOTHING: durable before we answer, in one round trip.
    The engine may skip pre-ping: a connection the database dropped fails here and the statement,
    being idempotent, runs once more on a fresh one.
    """
    params = {"platform": platform, "dedupe_key": hashlib.sha256(raw_body).hexdigest(), "raw_body": raw_body,
              "now": now, "status": WebhookStatus.RECEIVED.value}
    for attempt in (1, 2):
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                new_id: int | None = conn.execute(_STORE_DELIVERY, params).scalar()
                return new_id
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
            logger.info("webhook store: connection was dropped; retrying on a fresh one")
    raise AssertionError("unreachable")


def process_delivery(session: Session, event: WebhookEvent,
                     connector_for: Callable[[Tenant], AccountingConnector], *,
                     now: datetime) -> tuple[dict[str, int], list[int]]:
    """Apply every change announced in ``event``: invoices re-read one by one, other kinds by an
    incremental sync of the tenant (they carry no usable payload and are rarer). Returns the totals
    and the ids of the tenants whose ledgers changed."""
    changes = connector_class(event.platform).parse_webhook(event.raw_body)
    by_tenant: dict[str, list[ChangeEvent]] = defaultdict(list)
    for change in changes:
        by_tenant[change.tenant_remote_id].append(change)
    totals: dict[str, int] = defaultdict(int)
    touched: list[int] = []
    for remote_id, tenant_changes in by_tenant.items():
        tenant = session.scalar(select(Tenant).where(Tenant.platform == event.platform,
                                                     Tenant.remote_id == remote_id))
        if tenant is None or tenant.status is not TenantStatus.CONNECTED:
            logger.info("ignoring %d changes for unknown or disconnected tenant %s", len(tenant_changes), remote_id)
            totals["ignored"] += len(tenant_changes)
            continue
        try:
            _apply_tenant_changes(session, tenant, tenant_changes, connector_for(tenant), now, totals)
        except AuthError as exc:
            raise TenantRefused(tenant.id, exc) from exc
        touched.append(tenant.id)
    return dict(totals), touched


def _apply_tenant_changes(session: Session, tenant: Tenant, changes: list[ChangeEvent],
                          connector: AccountingConnector, now: datetime, totals: dict[str, int]) -> None:
    invoice_ids = {c.entity_id for c in changes if c.kind is EntityKind.INVOICE}
    for remote_id in sorted(invoice_ids):
        result = sync.sync_invoice(session, tenant, connector, remote_id)
        totals["invoices"] += result.invoices
        totals["deleted"] += result.deleted
    if any(c.kind is not EntityKind.INVOICE for c in changes):
        result = sync.sync_incremental(session, tenant, connector, now=now)
        for name, count in result.as_dict().items():
            totals[name] += count


def delivery_tenant_ids(session: Session, event: WebhookEvent) -> list[int]:
    """Our ids of the tenants a delivery names (the ones whose mirror processing it may write)."""
    remote_ids = {change.tenant_remote_id for change in connector_class(event.platform).parse_webhook(event.raw_body)}
    if not remote_ids:
        return []
    return list(session.scalars(select(Tenant.id).where(Tenant.platform == event.platform,
                                                        Tenant.remote_id.in_(remote_ids))))


def events_to_enqueue(session: Session, *, now: datetime, received_only: bool = False) -> list[WebhookEvent]:
    """Stored but not queued yet, or (unless ``received_only``) failed and due for retry, deferred and
    past its ``not_before``, or queued but stuck (the job was lost). At most ENQUEUE_BATCH, oldest first."""
    due = WebhookEvent.status == WebhookStatus.RECEIVED.value
    if not received_only:
        due = or_(due, WebhookEvent.status == WebhookStatus.FAILED.value,
                  (WebhookEvent.status == WebhookStatus.DEFERRED.value) & (WebhookEvent.not_before <= now),
                  (WebhookEvent.status == WebhookStatus.QUEUED.value)
                  & (func.coalesce(WebhookEvent.queued_at, WebhookEvent.received_at) < now - STUCK_AFTER))
    return list(session.scalars(select(WebhookEvent).where(due).order_by(WebhookEvent.id).limit(ENQUEUE_BATCH)))


def dead_letters(session: Session) -> list[WebhookEvent]:
    return list(session.scalars(select(WebhookEvent).where(WebhookEvent.status == WebhookStatus.DEAD.value)
                                .order_by(WebhookEvent.id)))
