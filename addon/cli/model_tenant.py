"""`cashline model score-tenant / train-tenant / list-tenant / activate-tenant / activate-prior`: the risk
model on one tenant's mirrored ledger, its registry of model versions, and the shared pooled model.

The CSV commands of ``addon/cli/model.py`` work on files; these run what the scoring job runs, on the
database, synchronously. They are added to the same ``model`` group from here (see build_cli).

score-tenant, train-tenant and activate-tenant hold the tenant's model lock (``tenant_lock.MODEL``) up to
their commit (activate-prior the pooled model's, ``tenant_lock.POOLED``), as the scoring job does: a tenant
whose model another job or command is training or switching is waited for up to ``--wait`` seconds, then
the command fails saying so, having changed nothing.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from addon.cli.common import tenant_by_id
from addon.cli.model import group

_AS_OF = click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                      help="Scoring/training day (default: today in the tenant's time zone).")
LOCK_WAIT = 60.0  # seconds: a scoring run with a retrain takes a minute or two on a large ledger
_WAIT = click.option("--wait", type=click.FloatRange(min=0), default=LOCK_WAIT, show_default=True,
                     help="Seconds to wait for another job training, activating or scoring this tenant's model.")


@contextmanager
def _model_lock(tenant_id: int, wait: float) -> Iterator[None]:
    """Hold the tenant's model lock for the block and commit the session before releasing it (the next
    holder must see this one's active model); a tenant still busy after ``wait`` seconds is a clear error,
    not a second writer of its active model. ``tenant_lock.POOLED`` is the shared pooled model's lock."""
    from redis.exceptions import RedisError

    from addon.extensions import get_db, get_redis
    from addon.services import tenant_lock

    pooled = tenant_id == tenant_lock.POOLED
    who, whose, lock = (("pooled model", "the pooled model", "the pooled model's lock") if pooled
                        else (f"tenant {tenant_id}", "this tenant's model", "the tenant's model lock"))
    redis = get_redis()
    try:
        redis.ping()
    except RedisError as exc:  # an outage is a clear error here, not a traceback from inside the lock
        raise click.ClickException(f"{who}: cannot reach Redis for {lock} ({exc}); nothing was changed") from exc
    try:
        with tenant_lock.hold(redis, [tenant_id], wait=wait, kind=tenant_lock.MODEL) as lease:
            yield
            lease.check()
            get_db().session.commit()
    except tenant_lock.TenantBusy as exc:
        raise click.ClickException(
            f"{who}: another {'command is activating' if pooled else 'job is training, activating or scoring'} "
            f"{whose} (waited {wait:g} s); nothing was changed. Try again later, or pass a longer --wait.") from exc


def _connector(tenant: Any) -> Any:
    """The tenant's connector for write-back, or None (with a warning) when it cannot be used."""
    from addon.extensions import get_db, get_redis
    from addon.services.connections import connector_for
    from connectors.errors import ConnectorError

    engine = get_db().engine
    assert engine is not None
    try:
        return connector_for(tenant, engine=engine, redis=get_redis(), config=current_app.config)
    except ConnectorError as exc:  # AuthError included: still score, write-back waits for a reconnect
        click.echo(f"warning: no write-back for tenant {tenant.id}: {exc}", err=True)
        return None


@group.command("score-tenant")
@click.option("--tenant", "tenant_id", required=True, type=int, help="Tenant id.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--no-write-back", is_flag=True, help="Store scores but tag nothing in the ERP.")
@_AS_OF
@_WAIT
@with_appcontext
def score_tenant_command(tenant_id: int, as_json: bool, no_write_back: bool, as_of: datetime | None,
                         wait: float) -> None:
    """Score every open invoice of one tenant now (retraining a stale model first, as the job does),
    store the scores and write changed risk bands back to the ERP."""
    from addon.domain.scoring.train import NotEnoughHistoryError
    from addon.extensions import get_db
    from addon.services import scoring
    from addon.services.dunning_policies import tenant_today
    from addon.services.scoring_gate import GateTolerances
    from addon.services.scoring_prior import prior_factory

    session = get_db().session
    with _model_lock(tenant_id, wait):
        tenant = tenant_by_id(tenant_id)
        day = as_of.date() if as_of else tenant_today(session, tenant)  # as the scoring job
        connector = None if no_write_back else _connector(tenant)
        try:
            summary = scoring.score_tenant(session, tenant, today=day, connector=connector,
                                           prior_factory=prior_factory(current_app.config),
                                           tolerances=GateTolerances.from_config(current_app.config))
        except NotEnoughHistoryError as exc:
            session.rollback()
            raise click.ClickException(f"tenant {tenant_id}: {exc}") from exc
        bands = scoring.scores_by_band(session, tenant)
    result = {"tenant": tenant_id, "as_of": day.isoformat(), **summary.as_dict(),
              "write_back": connector is not None, "bands": bands}
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"Tenant {tenant_id}: scored {summary.scored} open invoices on {day.isoformat()} with model "
               f"{summary.model_version} ({summary.model_kind}); "
               + (f"{summary.written_back} band changes written back." if connector is not None
                  else "write-back skipped."))
    for band, count in sorted(bands.items(), key=lambda kv: -kv[1]):
        click.echo(f"  {band:<10}{count:>8}")


@group.command("train-tenant")
@click.option("--tenant", "tenant_id", required=True, type=int, help="Tenant id.")
@click.option("--json", "as_json", is_flag=True, help="Print the registered model as one JSON object.")
@click.option("--force", is_flag=True,
              help="Activate the new model even if it is worse than the active one on the newest invoices.")
@_AS_OF
@_WAIT
@with_appcontext
def train_tenant_command(tenant_id: int, as_json: bool, force: bool, as_of: datetime | None, wait: float) -> None:
    """Retrain one tenant's model on its mirrored history now (with the pooled prior while the tenant
    is cold) and make it the active model version, unless it is worse than the active one on the
    tenant's newest invoices (the quality gate; --force overrides it)."""
    from addon.domain.scoring.train import NotEnoughHistoryError
    from addon.extensions import get_db
    from addon.services import scoring
    from addon.services.dunning_policies import tenant_today
    from addon.services.scoring_gate import GateTolerances
    from addon.services.scoring_prior import prior_factory

    session = get_db().session
    with _model_lock(tenant_id, wait):
        tenant = tenant_by_id(tenant_id)
        day = as_of.date() if as_of else tenant_today(session, tenant)  # as the scoring job
        history, _ = scoring.tenant_history(session, tenant)
        try:
            row = scoring.train_for_tenant(session, tenant, history, day, prior_factory(current_app.config),
                                           force=force, actor="cli:train-tenant",
                                           tolerances=GateTolerances.from_config(current_app.config))
        except NotEnoughHistoryError as exc:
            session.rollback()
            raise click.ClickException(f"tenant {tenant_id}: {exc}") from exc
    result = {"tenant": tenant_id, "model_version": row.version, "model_kind": row.kind,
              "trained_from": row.trained_from.isoformat() if row.trained_from else None,
              "trained_to": row.trained_to.isoformat() if row.trained_to else None,
              "history_invoices": len(history), "active": row.active, "metrics": row.metrics}
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    gate = row.metrics["gate"]
    click.echo(f"Tenant {tenant_id}: trained {row.kind} model {row.version} on {len(history)} invoices "
               f"({result['trained_from']} to {result['trained_to']}); "
               + ("it is now the active model" if row.active else
                  f"kept inactive, {gate['compared_with']} stays active (rerun with --force to activate it)")
               + f": {gate['reason']}.")


@group.command("list-tenant")
@click.option("--tenant", "tenant_id", required=True, type=int, help="Tenant id.")
@click.option("--json", "as_json", is_flag=True, help="Print the registry as one JSON object.")
@with_appcontext
def list_tenant_command(tenant_id: int, as_json: bool) -> None:
    """List one tenant's registered model versions, newest first: training window, metrics, whether it is
    active and the quality gate's verdict on it."""
    from addon.extensions import get_db
    from addon.services.model_registry import active_model, tenant_models

    session = get_db().session
    tenant = tenant_by_id(tenant_id)
    in_use = active_model(session, tenant)
    models = [_registry_entry(row) for row in tenant_models(session, tenant)]
    result = {"tenant": tenant_id, "active": in_use.version if in_use else None,
              "active_kind": in_use.kind if in_use else None, "models": models}
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    uses = f"{in_use.version} ({in_use.kind})." if in_use else "no model yet (the next scoring run trains one)."
    click.echo(f"Tenant {tenant_id}: {len(models)} model version(s); scoring uses {uses}")
    if not models:
        return
    click.echo(f"  {'version':<40}{'kind':<14}{'trained':<25}{'brier':>7}{'auc':>7}  {'gate':<10}status")
    for m in models:
        figures = m["gate"]["candidate"] if m["gate"] and m["gate"].get("candidate") else {}
        window = f"{m['trained_from'] or '?'}..{m['trained_to'] or '?'}"
        click.echo(f"  {m['version']:<40}{m['kind']:<14}{window:<25}{_figure(figures.get('brier')):>7}"
                   f"{_figure(figures.get('roc_auc')):>7}  {(m['gate'] or {}).get('outcome') or '-':<10}"
                   + ("active" if m["active"] else "inactive"))


def _registry_entry(row: Any) -> dict[str, Any]:
    """One registry row as the list shows it (the gate's verdict and figures pulled out of its metrics)."""
    metrics = dict(row.metrics or {})
    return {"version": row.version, "kind": row.kind, "active": row.active,
            "trained_from": row.trained_from.isoformat() if row.trained_from else None,
            "trained_to": row.trained_to.isoformat() if row.trained_to else None,
            "registered_at": row.created_at.isoformat() if row.created_at else None,
            "gate": metrics.pop("gate", None), "metrics": metrics}


def _figure(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


@group.command("activate-tenant")
@click.option("--tenant", "tenant_id", required=True, type=int, help="Tenant id.")
@click.option("--version", "version", required=True, help="Model version to activate (see list-tenant).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON object.")
@click.option("--reason", default=None, help="Why (kept in the audit log).")
@_WAIT
@with_appcontext
def activate_tenant_command(tenant_id: int, version: str, as_json: bool, reason: str | None, wait: float) -> None:
    """Make a registered model version the tenant's active model without retraining: one the quality
    gate rejected, or an earlier one (a rollback). Audited; the weekly retrain resumes a week later."""
    from addon.extensions import get_db
    from addon.services.dunning_policies import tenant_today
    from addon.services.model_registry import ModelRegistryError, activate_model

    session = get_db().session
    actor = _cli_actor("activate-tenant")
    with _model_lock(tenant_id, wait):
        tenant = tenant_by_id(tenant_id)
        try:
            done = activate_model(session, tenant, version, actor=actor, today=tenant_today(session, tenant),
                                  reason=reason)
        except ModelRegistryError as exc:
            session.rollback()
            raise click.ClickException(f"tenant {tenant_id}: {exc}") from exc
    gate = (done.model.metrics or {}).get("gate") or {}
    result = {"tenant": tenant_id, "model_version": done.model.version, "previous": done.previous,
              "changed": done.changed, "gate_outcome": gate.get("outcome"), "actor": actor}
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    if not done.changed:
        click.echo(f"Tenant {tenant_id}: {version} is already the active model; nothing changed.")
        return
    click.echo(f"Tenant {tenant_id}: {version} is now the active model (was {done.previous or 'none'}); "
               f"quality gate verdict when it was trained: {gate.get('outcome') or 'none'}.")


@group.command("activate-prior")
@click.option("--artifact", "artifact_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="A pooled model written by `cashline model train-prior`.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON object.")
@click.option("--reason", default=None, help="Why (kept in the audit log).")
@_WAIT
@with_appcontext
def activate_prior_command(artifact_path: str, as_json: bool, reason: str | None, wait: float) -> None:
    """Register a pooled cold-start model (or find it registered) and make it the only active pooled model:
    the one every tenant without an active model of its own scores with. Audited."""
    from pathlib import Path

    from addon.extensions import get_db
    from addon.services import tenant_lock
    from addon.services.model_registry import ModelRegistryError, activate_pooled_model

    session = get_db().session
    artifact = Path(artifact_path).read_bytes()
    actor = _cli_actor("activate-prior")
    with _model_lock(tenant_lock.POOLED, wait):
        try:
            done = activate_pooled_model(session, artifact, actor=actor, reason=reason)
        except ModelRegistryError as exc:
            session.rollback()
            raise click.ClickException(f"{artifact_path}: {exc}; nothing was changed") from exc
    result = {"model_version": done.model.version, "previous": done.previous, "changed": done.changed,
              "actor": actor}
    if as_json:
        click.echo(json.dumps(result, indent=2))
    elif not done.changed:
        click.echo(f"{done.model.version} is already the active pooled model; nothing changed.")
    else:
        click.echo(f"{done.model.version} is now the active pooled model (was {done.previous or 'none'}).")


def _cli_actor(command: str) -> str:
    """The audit actor of a command: the command and, when the OS knows it, who ran it."""
    try:
        return f"cli:{command}:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return f"cli:{command}"


def register(cli: click.Group) -> None:
    """Nothing to add at the top level: the commands live on the ``model`` group (imported above)."""
