"""Risk write-back: the ERP gets a risk tag/note only when an invoice's band differs from the band last
written (Xero: an invoice history note; QBO: the risk custom field if defined, else PrivateNote, through
``AccountingConnector.set_risk_tag``). Each write carries its own idempotency key, is paced by the
connector's throttle and audited; a rate limit or a revoked connection stops the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from addon.models import AuditLog, Invoice, RiskScore, Tenant
from connectors.base import AccountingConnector
from connectors.errors import AuthError, ConnectorError, RateLimitedError

logger = logging.getLogger(__name__)

DEFAULT_NOTE = "Cashline risk: {band} ({percent}% chance of late payment; expected {expected}). {reason}"
WRITE_BACK = "risk.written_back"  # the audit action of one band written to the ERP
AUDIT_BATCH = 5000  # invoice ids per audit-count query (bounds the IN lists)


def pending_write_back(session: Session, tenant: Tenant, invoice_ids: set[int]) -> list[tuple[RiskScore, str]]:
    """(score row, invoice remote id) for ``invoice_ids`` whose band differs from the one written back."""
    rows = session.execute(
        select(RiskScore, Invoice.remote_id).join(Invoice, Invoice.id == RiskScore.invoice_id)
        .where(RiskScore.tenant_id == tenant.id,
               or_(RiskScore.written_band.is_(None), RiskScore.written_band != RiskScore.band))
        .order_by(RiskScore.invoice_id).execution_options(populate_existing=True)).all()
    return [(score, remote_id) for score, remote_id in rows if score.invoice_id in invoice_ids]


def risk_note(tenant: Tenant, row: RiskScore) -> str:
    """The note written to the ERP: the tenant's template (setting ``risk_note_template``) or ``DEFAULT_NOTE``."""
    template = tenant.settings.get("risk_note_template") or DEFAULT_NOTE
    return template.format(band=row.band, percent=round(float(row.p_late) * 100),
                           expected=row.expected_pay_date.isoformat() if row.expected_pay_date else "unknown",
                           reason=(row.reasons[0] if row.reasons else "")).strip()


def write_back(session: Session, tenant: Tenant, connector: AccountingConnector,
               pending: Sequence[tuple[RiskScore, str]]) -> int:
    """Write each pending band to the ERP; the number written. A rate limit or a revoked connection
    stops the batch: every further call would fail the same way (and a 429 asks us to back off), and
    the rows left keep their old ``written_band``, so the next run picks them up."""
    written = 0
    done = _writes_so_far(session, tenant, [remote_id for _, remote_id in pending])
    for row, remote_id in pending:
        try:
            written += _write_back(session, tenant, connector, remote_id, row, done.get(remote_id, 0))
        except (RateLimitedError, AuthError) as exc:
            logger.warning("risk write-back stopped for tenant %s after %d invoices: %s", tenant.id, written, exc)
            break
    return written



def _writes_so_far(session: Session, tenant: Tenant, remote_ids: Sequence[str]) -> dict[str, int]:
    """Invoice remote id -> band changes already written to the ERP (audited, hence committed)."""
    counts: dict[str, int] = {}
    for start in range(0, len(remote_ids), AUDIT_BATCH):
        counts.update((remote_id, count) for remote_id, count in session.execute(
            select(AuditLog.object_id, func.count()).where(
                AuditLog.tenant_id == tenant.id, AuditLog.action == WRITE_BACK, AuditLog.object_type == "invoice",
                AuditLog.object_id.in_(remote_ids[start:start + AUDIT_BATCH]))
            .group_by(AuditLog.object_id)))
    return counts


def _write_back(session: Session, tenant: Tenant, connector: AccountingConnector, remote_id: str,
                row: RiskScore, writes_so_far: int) -> int:
    text = risk_note(tenant, row)
    # One key per write: the ERP replays a repeated key's first result and writes nothing, so a band that
    # comes back (low -> medium -> low) needs a key of its own. Numbering by committed writes keeps a
    # retried job (it died after writing, before its commit) on the same key, so no note lands twice.
    key = f"risk-{tenant.id}-{row.invoice_id}-{writes_so_far + 1}-{row.band}"[:120]
    try:
        connector.set_risk_tag(remote_id, row.band, text, idempotency_key=key)
    except (RateLimitedError, AuthError):
        raise  # not this invoice's fault: ``write_back`` stops the batch
    except ConnectorError as exc:  # one invoice's write-back failing must not lose the batch's scores
        logger.warning("risk write-back failed for invoice %s: %s", row.invoice_id, exc)
        return 0
    session.add(AuditLog(tenant_id=tenant.id, actor="job:scoring", action=WRITE_BACK,
                         object_type="invoice", object_id=remote_id, before={"band": row.written_band},
                         after={"band": row.band, "p_late": str(row.p_late)}, reason=text))
    row.written_band = row.band
    return 1
