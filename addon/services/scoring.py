"""Risk scoring for a tenant: history from the mirror, the right model, scores, and write-back.

- Model choice: the tenant's own model once it has enough settled history, else the pooled prior
  (trained on generated histories of every behaviour mix) blended with whatever the tenant has.
  Models are versioned artifacts in ``model_versions`` with their training window and metrics. A
  retrained model replaces the active one only if the quality gate (``scoring_gate``) finds it not worse.
- Write-back (``risk_writeback``): the ERP gets a risk tag/note only when an invoice's band differs
  from the band last written, idempotent per invoice and write, rate-limited and audited.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from psycopg import sql
from sqlalchemy import Table, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from addon.domain.scoring.history import (
    NO_DATE,
    HistoryFrame,
    HistoryInvoice,
    IntArray,
    InvoiceEvents,
    decimal_string_rank,
)
from addon.domain.scoring.model import DEFAULT_BANDS, ArtifactError, RiskModel
from addon.domain.scoring.train import NotEnoughHistoryError, TrainConfig, needs_prior, train_leaning_on_prior

__all__ = ["history_frame", "needs_prior", "pending_write_back", "persist_scores", "score_tenant",
           "tenant_history", "train_for_tenant"]
from addon.models import (
    AuditLog,
    Customer,
    DunningAction,
    Invoice,
    ModelVersion,
    Payment,
    PaymentAllocation,
    RiskScore,
    Tenant,
)
from addon.services.model_registry import active_model
from addon.services.risk_writeback import pending_write_back, write_back
from addon.services.scoring_gate import DEFAULT_TOLERANCES, GateDecision, GateTolerances, compare
from connectors.base import AccountingConnector

logger = logging.getLogger(__name__)

RETRAIN_AFTER = timedelta(days=7)
NOT_ENOUGH_HISTORY = "not_enough_history"  # Tenant.model_attempt after a training that had too little to learn
# One thread per training: RQ workers share the cores, and XGBoost's OpenMP threads spin badly when
# another process holds the other core (measured: 20x slower than nthread=1 under load).
DEFAULT_TRAIN_CONFIG = TrainConfig(nthread=1)


@dataclass
class ScoringSummary:
    scored: int
    written_back: int
    model_version: str
    model_kind: str

    def as_dict(self) -> dict[str, Any]:
        return {"scored": self.scored, "written_back": self.written_back, "model_version": self.model_version,
                "model_kind": self.model_kind}


_HISTORY_COLUMNS = (Invoice.id, Invoice.remote_id, Invoice.customer_id, Customer.remote_id.label("customer_remote"),
                    Invoice.issue_date, Invoice.due_date, Invoice.total, Invoice.currency, Invoice.status,
                    Invoice.fully_paid_on, Invoice.disputed, Invoice.amount_credited, Invoice.sent,
                    Invoice.promised_on, Invoice.amount_due, Invoice.disputed_on, Invoice.dispute_resolved_on)


TenantHistory = tuple[list[HistoryInvoice], dict[str, Any]]


def tenant_history(session: Session, tenant: Tenant) -> TenantHistory:
    """Every issued invoice of the tenant as the model sees it, plus invoice id -> row for open ones.

    Open rows are plain column rows carrying ``id`` and ``remote_id``, not ORM entities: loading a
    million Invoice objects costs several times more and scoring needs none of their behaviour.
    """
    rows = session.execute(select(*_HISTORY_COLUMNS).outerjoin(Customer, Customer.id == Invoice.customer_id)
                           .where(Invoice.tenant_id == tenant.id, Invoice.status.in_(["open", "paid"]))).all()
    payments, reminders, promises = dated_events(session, tenant)
    history: list[HistoryInvoice] = []
    open_rows: dict[str, Any] = {}
    zero = Decimal("0")
    # Unpacking each row once is several times cheaper than repeated Row attribute lookups at 1M rows.
    for row in rows:
        (pk, _remote, customer_pk, customer_remote, issue, due, total, currency, status, fully_paid_on, disputed,
         credited, sent, promised_on, amount_due, disputed_on, dispute_resolved_on) = row
        paid = fully_paid_on if status == "paid" else None
        if status == "paid" and paid is None:
            paid = due  # paid, date unknown to the mirror: count it as on time rather than invent
        paid_in, reminded = payments.get(pk, ()), reminders.get(pk, ())
        history.append(HistoryInvoice(
            invoice_id=str(pk), customer_id=customer_remote or f"unknown-{customer_pk}",
            issue_date=issue, due_date=due, amount=total, currency=currency,
            paid_date=paid, disputed=bool(disputed) or disputed_on is not None, dispute_date=disputed_on,
            dispute_resolved_date=dispute_resolved_on,
            credited=credited or zero, partial_payments=max(0, len(paid_in) - (1 if paid else 0)), sent=sent,
            reminders_sent=len(reminded), promised=promised_on is not None,
            payments=tuple(paid_in), reminder_dates=tuple(reminded), promises=tuple(promises.get(pk, ()))))
        if status == "open" and amount_due > 0:
            open_rows[str(pk)] = row
    return history, open_rows


def dated_events(session: Session, tenant: Tenant) -> tuple[
        dict[int, list[tuple[date, Decimal]]], dict[int, list[date]], dict[int, list[tuple[date, date]]]]:
    """Per invoice key, in date order: the payments applied to it (payment date, amount allocated), the
    days reminders were sent, and the promise to pay (day recorded, day promised) a collector recorded."""
    payments: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    reminders: dict[int, list[date]] = defaultdict(list)
    promises: dict[int, list[tuple[date, date]]] = defaultdict(list)
    pay = (select(PaymentAllocation.invoice_id, Payment.date, PaymentAllocation.amount)
           .join(Payment, Payment.id == PaymentAllocation.payment_id)
           .where(PaymentAllocation.tenant_id == tenant.id, PaymentAllocation.invoice_id.is_not(None),
                  Payment.deleted.is_(False)).order_by(PaymentAllocation.invoice_id, Payment.date))
    sent = (select(DunningAction.invoice_id, DunningAction.sent_at)
            .where(DunningAction.tenant_id == tenant.id, DunningAction.status == "sent",
                   DunningAction.invoice_id.is_not(None), DunningAction.sent_at.is_not(None))
            .order_by(DunningAction.invoice_id, DunningAction.sent_at))
    for invoice_id, day, amount in session.execute(pay):
        payments[cast(int, invoice_id)].append((day, amount))
    for invoice_id, sent_at in session.execute(sent):
        reminders[cast(int, invoice_id)].append(cast(datetime, sent_at).date())
    for invoice_id, made, promised in session.execute(
            select(Invoice.id, Invoice.promise_recorded_on, Invoice.promised_on)
            .where(Invoice.tenant_id == tenant.id, Invoice.promise_recorded_on.is_not(None),
                   Invoice.promised_on.is_not(None))):
        promises[invoice_id].append((cast(date, made), cast(date, promised)))
    return payments, reminders, promises


def history_frame(session: Session, tenant: Tenant, records: Callable[[], TenantHistory] | None = None
                  ) -> tuple[HistoryFrame, IntArray]:
    """``tenant_history`` as columns: every issued invoice of the tenant, plus the rows of the open ones.

    On PostgreSQL the columns arrive in one binary COPY of fixed-width fields that numpy reads in
    place (no row objects at all); elsewhere the rows come from ``records`` (default:
    ``tenant_history``). Either way the frame's invoice ids are the invoices' primary keys as text.
    """
    if session.get_bind().dialect.name == "postgresql":
        loaded = _pg_history_frame(session, tenant)
        if loaded is not None:
            return loaded
    history, open_rows = records() if records is not None else tenant_history(session, tenant)
    return HistoryFrame.from_records(history), np.array(
        [n for n, inv in enumerate(history) if inv.invoice_id in open_rows], dtype=np.int64)


def frame_pks(frame: HistoryFrame, rows: IntArray) -> IntArray:
    """Invoice primary keys of ``rows`` (the frame's invoice ids are the keys as text)."""
    if frame.pks is not None:
        return frame.pks[rows]
    return np.array([int(frame.invoice_id(r)) for r in rows.tolist()], dtype=np.int64)


_DAY = "- DATE '0001-01-01' + 1"  # date -> day ordinal (date.toordinal)
_FLAGS = (("disputed", "COALESCE(i.disputed, false) OR i.disputed_on IS NOT NULL"),
          ("credited", "COALESCE(i.amount_credited, 0) > 0"),
          ("sent", "COALESCE(i.sent, false)"), ("open", "i.status = 'open' AND i.amount_due > 0"),
          ("partial", "COALESCE(pa.n, 0) > CASE WHEN i.status = 'paid' THEN 1 ELSE 0 END"))
# (column, its SQL, binary COPY type): every field fixed-width and never NULL, so numpy can read the rows.
_COPY_FIELDS = (
    ("id", "i.id", ">i4"), ("customer", "COALESCE(i.customer_id, -1)", ">i4"),
    ("issue", f"i.issue_date {_DAY}", ">i4"), ("due", f"i.due_date {_DAY}", ">i4"),
    ("dispute_from", f"COALESCE(i.disputed_on, i.due_date) {_DAY}", ">i4"),
    ("dispute_until", f"COALESCE(i.dispute_resolved_on {_DAY}, {NO_DATE})", ">i4"),
    # paid with no date known to the mirror counts as paid on time, as in tenant_history
    ("paid", f"CASE WHEN i.status = 'paid' THEN COALESCE(i.fully_paid_on, i.due_date) {_DAY} ELSE {NO_DATE} END",
     ">i4"),
    ("amount", "i.total::float8", ">f8"), ("currency", "rpad(i.currency, 3)::text", "S3"),
    ("flags", " | ".join(f"(CASE WHEN {sql} THEN {1 << n} ELSE 0 END)" for n, (_, sql) in enumerate(_FLAGS)),
     ">i4"))
# One COPY row per million invoice ids, each field an array of fixed-width elements: libpq hands over
# a few large rows instead of a million small ones, and numpy reads each array in place.
_COPY_QUERY = sql.SQL(
    "COPY (SELECT {arrays} FROM (SELECT i.id / 1000000 AS part, {fields} FROM invoices i "
    "LEFT JOIN (SELECT invoice_id, count(*) AS n FROM payment_allocations WHERE tenant_id = {tenant} "
    "GROUP BY invoice_id) pa ON pa.invoice_id = i.id "
    "WHERE i.tenant_id = {tenant} AND i.status IN ('open', 'paid')) q GROUP BY part) TO STDOUT (FORMAT BINARY)"
).format(arrays=sql.SQL(", ").join(sql.SQL("array_agg({name})").format(name=sql.Identifier(name))
                                   for name, _, _ in _COPY_FIELDS),
         fields=sql.SQL(", ").join(sql.SQL("{expr} AS {name}").format(expr=sql.SQL(expr), name=sql.Identifier(name))
                                   for name, expr, _ in _COPY_FIELDS),
         tenant=sql.Placeholder("tenant"))
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _copy_columns(data: bytes | bytearray) -> dict[str, npt.NDArray[Any]] | None:
    """The columns of a binary COPY of one-dimensional arrays of fixed-width, non-NULL elements."""
    if not data.startswith(_COPY_SIGNATURE):
        return None
    pos = 19 + int.from_bytes(data[15:19], "big")  # signature, flags, header extension
    parts: dict[str, list[npt.NDArray[Any]]] = {name: [] for name, _, _ in _COPY_FIELDS}
    while int.from_bytes(data[pos:pos + 2], "big", signed=True) == len(_COPY_FIELDS):
        pos += 2
        for name, _, kind in _COPY_FIELDS:
            size = int.from_bytes(data[pos:pos + 4], "big", signed=True)
            ndim, has_null = int.from_bytes(data[pos + 4:pos + 8], "big"), int.from_bytes(data[pos + 8:pos + 12], "big")
            count = int.from_bytes(data[pos + 16:pos + 20], "big")
            width = np.dtype(kind).itemsize
            if ndim != 1 or has_null or size != 20 + count * (4 + width):
                return None  # e.g. a currency code that is not three ASCII letters: take the generic path
            items = np.frombuffer(data, dtype=[("len", ">i4"), ("value", kind)], count=count, offset=pos + 24)
            if np.any(items["len"] != width):
                return None
            parts[name].append(items["value"])
            pos += 4 + size
    if data[pos:] != b"\xff\xff":
        return None
    return {name: np.concatenate(arrays) if arrays else np.zeros(0, dtype=kind)
            for (name, arrays), (_, _, kind) in zip(parts.items(), _COPY_FIELDS, strict=True)}


def _pg_history_frame(session: Session, tenant: Tenant) -> tuple[HistoryFrame, IntArray] | None:
    """The PostgreSQL fast path of ``history_frame``; None if the data does not fit fixed-width fields."""
    raw: Any = session.connection().connection.driver_connection
    data = bytearray()
    with raw.cursor() as cur, cur.copy(_COPY_QUERY, {"tenant": int(tenant.id)}) as copy:
        for block in copy:
            data += block
    rows = _copy_columns(data)
    if rows is None:
        return None
    count = len(rows["id"])
    customer_pk = rows["customer"].astype(np.int64)
    pks, customer = np.unique(customer_pk, return_inverse=True)
    names = _customer_names(session, tenant, pks.tolist())
    codes = {name: n for n, name in enumerate(dict.fromkeys(names))}  # two keys may share a name
    customer = np.array([codes[name] for name in names], dtype=np.int64)[customer]
    currency_bytes, currency = np.unique(rows["currency"], return_inverse=True)
    flags = rows["flags"].astype(np.int64)
    flag = {name: (flags & (1 << n)) != 0 for n, (name, _) in enumerate(_FLAGS)}
    ids = rows["id"].astype(np.int64)
    due = rows["due"].astype(np.int64)
    frame = HistoryFrame(
        customers=list(codes), customer=customer, issue=rows["issue"].astype(np.int64), due=due,
        paid=rows["paid"].astype(np.int64), amount=rows["amount"].astype(np.float64),
        currencies=[c.decode().rstrip(" ") for c in currency_bytes.tolist()],
        currency=currency.astype(np.int64), countries=[], country=np.full(count, -1, dtype=np.int64),
        disputed=flag["disputed"], dispute_from=rows["dispute_from"].astype(np.int64), credited=flag["credited"],
        partial=flag["partial"],
        sent=flag["sent"], id_rank=decimal_string_rank(ids), pks=ids,
        dispute_until=rows["dispute_until"].astype(np.int64))
    frame.events = _frame_events(session, tenant, ids)
    return frame, np.flatnonzero(flag["open"])


def _frame_events(session: Session, tenant: Tenant, pks: IntArray) -> InvoiceEvents:
    """Dated payments and reminders of the frame's invoices (rows located by key, vectorised): open
    invoices need them for their own state, and the scoring-time window for its overdue snapshots."""
    payments, reminders, promises = dated_events(session, tenant)
    row = _rows_of(pks, [*payments, *reminders, *promises])
    return InvoiceEvents.from_lists(
        [(row[pk], day.toordinal(), float(amount)) for pk, items in payments.items() if pk in row
         for day, amount in items],
        [(row[pk], day.toordinal()) for pk, days in reminders.items() if pk in row for day in days],
        [(row[pk], made.toordinal(), promised.toordinal()) for pk, items in promises.items() if pk in row
         for made, promised in items])


def _rows_of(pks: IntArray, keys: Sequence[int]) -> dict[int, int]:
    """Invoice key -> its row in a frame whose keys are ``pks`` (keys not in the frame are left out)."""
    if not len(pks) or not keys:
        return {}
    wanted = np.array(keys, dtype=np.int64)
    order = np.argsort(pks, kind="stable")
    rows = order[np.minimum(np.searchsorted(pks, wanted, sorter=order), len(pks) - 1)]
    found = pks[rows] == wanted
    return dict(zip(wanted[found].tolist(), rows[found].tolist(), strict=True))


def _customer_names(session: Session, tenant: Tenant, pks: list[int]) -> list[str]:
    """The customer id the model sees for each customer key, as ``tenant_history`` names them."""
    remote = dict(session.execute(select(Customer.id, Customer.remote_id)
                                  .where(Customer.tenant_id == tenant.id)).all())
    missing = [pk for pk in pks if pk >= 0 and pk not in remote]
    if missing:
        remote.update(session.execute(select(Customer.id, Customer.remote_id)
                                      .where(Customer.id.in_(missing))).all())
    return [remote.get(pk) or f"unknown-{pk if pk >= 0 else None}" for pk in pks]


def train_for_tenant(session: Session, tenant: Tenant, history: Sequence[HistoryInvoice], today: date,
                     prior_factory: Callable[[], Sequence[tuple[Sequence[HistoryInvoice], date]]] | None = None,
                     config: TrainConfig = DEFAULT_TRAIN_CONFIG, *, force: bool = False,
                     actor: str = "job:scoring", tolerances: GateTolerances = DEFAULT_TOLERANCES) -> ModelVersion:
    """Train and register a model for ``tenant``; while it is cold, with the pooled prior histories
    ``prior_factory`` builds (only then: generating them is not free).

    The new model becomes the active one only if the quality gate passes it (``scoring_gate``) or
    ``force`` is set; otherwise it is stored inactive with the gate's figures and reason, so the rejection
    can be inspected (and activated by hand: ``model_registry.activate_model``). Either way the attempt is
    remembered on the tenant and audited."""
    try:
        model, use_prior = train_leaning_on_prior(history, today, config, prior_factory)
    except NotEnoughHistoryError:
        _remember_attempt(tenant, today, NOT_ENOUGH_HISTORY)
        raise
    current = active_model(session, tenant)
    decision = _gate(current, model, history, today, config, tolerances)
    activate = decision.passed or force
    outcome = "activated" if decision.passed else "forced" if force else "rejected"
    if activate:
        for old in session.scalars(select(ModelVersion).where(ModelVersion.tenant_id == tenant.id,
                                                              ModelVersion.active)):
            old.active = False
    window = model.metadata.get("training_window", {})
    gate = {"outcome": outcome, "reason": decision.reason, "compared_with": current.version if current else None,
            "candidate": decision.candidate, "active": decision.active, "tolerances": tolerances.as_dict()}
    row = ModelVersion(tenant_id=tenant.id, version=_unused_version(session, f"t{tenant.id}-{model.version}"),
                       kind="tenant+prior" if use_prior else "tenant",
                       trained_from=_date(window.get("start")), trained_to=_date(window.get("end")),
                       metrics={"rows": model.metadata.get("rows"), "late_rate": model.metadata.get("late_rate"),
                                "calibrated_on": model.metadata.get("calibrated_on"), "gate": gate},
                       artifact=model.to_bytes(), active=activate)
    session.add(row)
    session.flush()
    _remember_attempt(tenant, today, outcome)
    session.add(AuditLog(tenant_id=tenant.id, actor=actor, action="model.activated" if activate else "model.rejected",
                         object_type="model_version", object_id=row.version,
                         before={"active": current.version if current else None},
                         after={"active": row.version if activate else current.version if current else None,
                                "gate": gate},
                         reason=f"forced: {decision.reason}" if outcome == "forced" else decision.reason))
    log = logger.info if activate else logger.warning
    log("tenant %s: %s model %s %s (%s)", tenant.id, row.kind, row.version, outcome, decision.reason)
    return row


def _remember_attempt(tenant: Tenant, today: date, outcome: str) -> None:
    """Record the training attempt on the tenant, so ``ensure_model`` does not retry it on every run."""
    tenant.model_attempted_on, tenant.model_attempt = today, outcome


def _gate(current: ModelVersion | None, candidate: RiskModel, history: Sequence[HistoryInvoice], today: date,
          config: TrainConfig, tolerances: GateTolerances) -> GateDecision:
    """The quality gate's decision; a candidate with nothing usable to compare against passes."""
    if current is None:
        return GateDecision(True, "no active model to compare with")
    active = _readable(current)
    if active is None:
        return GateDecision(True, f"the active model {current.version} cannot be read by this release")
    return compare(candidate, active, history, today, config.calibration_fraction, tolerances)


def _unused_version(session: Session, version: str) -> str:
    """``version``, or with the first free ``-2``, ``-3``... suffix: a model's version names its training
    date, window and settings, so a second training the same day (a manual `cashline model train` after the
    nightly job, a retry) would otherwise collide with the first in the registry."""
    same_prefix = ModelVersion.version.startswith(version, autoescape=True)
    taken = set(session.scalars(select(ModelVersion.version).where(same_prefix)))
    candidates = itertools.chain((version,), (f"{version}-{n}" for n in itertools.count(2)))
    return next(v for v in candidates if v not in taken)


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def ensure_model(session: Session, tenant: Tenant,
                 history: Sequence[HistoryInvoice] | Callable[[], Sequence[HistoryInvoice]], today: date,
                 prior_factory: Any = None, config: TrainConfig = DEFAULT_TRAIN_CONFIG,
                 tolerances: GateTolerances = DEFAULT_TOLERANCES) -> tuple[RiskModel, ModelVersion]:
    """The tenant's active model, retrained when older than a week, missing, or unreadable (an artifact
    from a release with another feature set: upgrading must not stop scoring until the weekly retrain),
    unless a recent attempt already failed or was rejected (see ``_due_for_training``).

    ``history`` may be a callable: the records are then only loaded when a model has to be trained.
    """
    current = active_model(session, tenant)
    model = _readable(current)
    if model is None or current is None or _due_for_training(tenant, current, today):
        records = history() if callable(history) else history
        try:
            trained = train_for_tenant(session, tenant, records, today, prior_factory, config,
                                       tolerances=tolerances)
        except NotEnoughHistoryError:
            if model is None or current is None:
                raise
            logger.info("tenant %s: too little history to retrain; keeping %s", tenant.id, current.version)
        else:
            if trained.active:  # else the gate rejected it: keep scoring with the current model
                current, model = trained, None
    assert current is not None
    return model or RiskModel.from_bytes(current.artifact), current


def _due_for_training(tenant: Tenant, current: ModelVersion, today: date) -> bool:
    """True when the tenant's usable model should be retrained: older than a week, or still the shared
    pooled one. A recent attempt counts too: after "not enough history" the next try is on the next day
    (new invoices may have synced), after a rejected candidate a week later, as after a success;
    otherwise the active model's old training date would start a training on every scoring run."""
    if tenant.model_attempted_on is not None:
        wait = timedelta(0) if tenant.model_attempt == NOT_ENOUGH_HISTORY else RETRAIN_AFTER
        if today - tenant.model_attempted_on <= wait:
            return False
    if current.tenant_id is None:
        return True
    return current.trained_to is not None and today - current.trained_to > RETRAIN_AFTER


def _readable(version: ModelVersion | None) -> RiskModel | None:
    if version is None:
        return None
    try:
        return RiskModel.from_bytes(version.artifact)
    except ArtifactError as exc:
        logger.info("model %s cannot be used by this release (%s); retraining", version.version, exc)
        return None


def bands_for(tenant: Tenant) -> tuple[tuple[str, float], ...]:
    configured = tenant.settings.get("risk_bands")
    return tuple((str(n), float(t)) for n, t in configured) if configured else DEFAULT_BANDS


def score_tenant(session: Session, tenant: Tenant, *, today: date, connector: AccountingConnector | None = None,
                 prior_factory: Any = None, invoice_ids: set[int] | None = None,
                 train_config: TrainConfig = DEFAULT_TRAIN_CONFIG,
                 tolerances: GateTolerances = DEFAULT_TOLERANCES) -> ScoringSummary:
    """Score open invoices (all, or ``invoice_ids``), persist, and write changed bands back."""
    # Loaded at most once: the frame reads these records where COPY is not available, and training a
    # stale model needs them too.
    records = functools.cache(lambda: tenant_history(session, tenant))
    frame, rows = history_frame(session, tenant, records)
    pks = frame_pks(frame, rows)
    if invoice_ids is not None:
        keep = np.isin(pks, np.fromiter(invoice_ids, dtype=np.int64, count=len(invoice_ids)))
        rows, pks = rows[keep], pks[keep]
    model, version = ensure_model(session, tenant, lambda: records()[0], today,
                                  prior_factory, train_config, tolerances)
    scores = model.predict_frame(frame, rows, today, bands=bands_for(tenant))
    pk_list = pks.tolist()
    persist_scores(session, tenant, scores, {s.invoice_id: pk for s, pk in zip(scores, pk_list, strict=True)},
                   version.version)
    written = 0
    if connector is not None:
        written = write_back(session, tenant, connector, pending_write_back(session, tenant, set(pk_list)))
    session.flush()
    return ScoringSummary(len(scores), written, version.version, version.kind)


UPSERT_BATCH = 5000  # rows per executemany call (bounds the parameter lists held at once)
_UPDATED = ("model_version", "p_late", "band", "expected_pay_date", "p10_days", "p50_days", "p90_days",
            "reasons", "scored_at")
_P_LATE_STEP = Decimal("0.00001")


def persist_scores(session: Session, tenant: Tenant, scores: Sequence[Any], invoice_pks: Mapping[str, int],
                   version: str, *, now: datetime | None = None) -> int:
    """Upsert one risk_scores row per score: INSERT ... ON CONFLICT (invoice_id) DO UPDATE.

    ``invoice_pks`` maps each score's ``invoice_id`` to the invoice's primary key. ``written_band`` is
    left alone, so band-change write-back still compares with what the ERP was last told. On PostgreSQL
    the rows are COPYed into a temporary table and upserted by one statement; elsewhere one compiled
    statement is executemany'd in batches.
    """
    session.flush()  # pending ORM changes must reach the tables before the Core statements do
    now = now or datetime.now(UTC)
    if session.get_bind().dialect.name == "postgresql":
        _copy_upsert(session, tenant.id, scores, invoice_pks, version, now)
    else:
        values = [_score_values(tenant.id, invoice_pks[s.invoice_id], s, version, now) for s in scores]
        table = cast(Table, RiskScore.__table__)
        stmt = sqlite_insert(table)
        stmt = stmt.on_conflict_do_update(index_elements=[table.c.invoice_id],
                                          set_={c: stmt.excluded[c] for c in _UPDATED})
        # One statement compiled once and executemany'd; a literal multi-row VALUES per batch cost ~10x more.
        for start in range(0, len(values), UPSERT_BATCH):
            session.execute(stmt, values[start:start + UPSERT_BATCH])
    # Core statements bypass the identity map: RiskScore objects loaded earlier are stale now.
    for obj in [o for o in session.identity_map.values() if isinstance(o, RiskScore)]:
        session.expire(obj)
    return len(scores)


_COLUMNS = ("tenant_id", "invoice_id", *_UPDATED)
_STAGE = sql.Identifier("risk_scores_stage")
_STAGE_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, _COLUMNS))
_STAGE_SQL = (
    sql.SQL("CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS SELECT {columns} FROM risk_scores WITH NO DATA"),
    sql.SQL("INSERT INTO risk_scores ({columns}) SELECT {columns} FROM {stage} "
            "ON CONFLICT (invoice_id) DO UPDATE SET {updates}"),
    sql.SQL("COPY {stage} ({columns}) FROM STDIN"),
    sql.SQL("DROP TABLE {stage}"))
_STAGE_PARTS = {"stage": _STAGE, "columns": _STAGE_COLUMNS, "updates": sql.SQL(", ").join(
    sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in _UPDATED)}


def _copy_upsert(session: Session, tenant_id: int, scores: Sequence[Any], invoice_pks: Mapping[str, int],
                 version: str, now: datetime) -> None:
    """PostgreSQL: COPY the rows into a temporary table (same column types), then one upsert from it.

    The COPY text is written directly (no parameter objects per row): 100,000 rows take about a second.
    Values are those of ``_score_values``; p_late goes in as its 4-decimal text, which numeric(6,5) stores
    as the same number that ``_score_values`` quantizes to.
    """
    create, upsert, copy_in, drop = (statement.format(**_STAGE_PARTS) for statement in _STAGE_SQL)
    head = f"{tenant_id}\t"
    tail = f"\t{now.isoformat()}\n"
    version_text = _copy_text(version)
    @functools.cache  # a book repeats the same few reason lists many times: encode each once
    def reasons(found: tuple[str, ...]) -> str:
        return _copy_text(json.dumps(list(found)))

    raw: Any = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        cur.execute(create)
        with cur.copy(copy_in) as copy:
            # Batch by batch: the server parses one batch while the next is formatted.
            for start in range(0, len(scores), UPSERT_BATCH):
                copy.write("".join(
                    f"{head}{invoice_pks[s.invoice_id]}\t{version_text}\t{_p_late_text(s.p_late)}\t"
                    f"{_copy_text(s.band)}\t{s.expected_pay_date.isoformat() if s.expected_pay_date else NULL_TEXT}\t"
                    f"{round(s.p10_days)}\t{round(s.p50_days)}\t{round(s.p90_days)}\t{reasons(tuple(s.reasons))}{tail}"
                    for s in scores[start:start + UPSERT_BATCH]))
        cur.execute(upsert)
        cur.execute(drop)


NULL_TEXT = "\\N"


def _p_late_text(p_late: Any) -> str:
    """p_late as ``_score_values`` stores it (quantized to 5 decimals), without a Decimal when it has fewer."""
    text = str(p_late)
    if "e" in text or "E" in text or len(text.partition(".")[2]) > 5:
        return str(Decimal(text).quantize(_P_LATE_STEP))
    return text


def _copy_text(value: str) -> str:
    """A value in COPY's text format (backslash, tab, newline and carriage return escaped)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _score_values(tenant_id: int, invoice_pk: int, score: Any, version: str, now: datetime) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "invoice_id": invoice_pk, "model_version": version,
            "p_late": Decimal(str(score.p_late)).quantize(_P_LATE_STEP), "band": score.band,
            "expected_pay_date": score.expected_pay_date, "p10_days": round(score.p10_days),
            "p50_days": round(score.p50_days), "p90_days": round(score.p90_days),
            "reasons": list(score.reasons), "scored_at": now}


def scores_by_band(session: Session, tenant: Tenant) -> dict[str, int]:
    """Open invoices per band. A paid or voided invoice keeps its last score row, which is not part of
    the open book (the same invoices ``tenant_history`` hands the scorer as open)."""
    counts: dict[str, int] = defaultdict(int)
    for band in session.scalars(select(RiskScore.band).join(Invoice, Invoice.id == RiskScore.invoice_id)
                                .where(RiskScore.tenant_id == tenant.id, Invoice.status == "open",
                                       Invoice.amount_due > 0)):
        counts[band] += 1
    return dict(counts)
