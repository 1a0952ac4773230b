"""`cashline webhooks ...`: inspect deliveries and the dead-letter list, retry dead events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from addon.extensions import get_db, get_redis
from addon.models import WebhookEvent, WebhookStatus
from addon.queueing import enqueue


@click.group(name="webhooks")
def group() -> None:
    """Webhook deliveries and the dead-letter list."""


@group.command("list")
@click.option("--status", type=click.Choice([s.value for s in WebhookStatus]), default=WebhookStatus.DEAD.value,
              show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_events(status: str, as_json: bool) -> None:
    """List deliveries in STATUS (default: the dead-letter list) with their last error."""
    rows = get_db().session.scalars(select(WebhookEvent).where(WebhookEvent.status == status)
                                    .order_by(WebhookEvent.id)).all()
    items = [{"id": e.id, "platform": e.platform, "received_at": e.received_at.isoformat(), "attempts": e.attempts,
              "error": e.error} for e in rows]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for item in items:
        click.echo(f"#{item['id']} {item['platform']} received {item['received_at']} attempts={item['attempts']}"
                   f"\n    {item['error']}")
    click.echo(f"{len(items)} event(s) {status}")


@group.command("retry")
@click.argument("event_ids", nargs=-1, type=int, required=True)
@with_appcontext
def retry(event_ids: tuple[int, ...]) -> None:
    """Give dead-lettered events another round of attempts (after fixing the cause)."""
    session = get_db().session
    for event_id in event_ids:
        event = session.get(WebhookEvent, event_id)
        if event is None:
            raise click.ClickException(f"no webhook event {event_id}")
        # queued_at now: with the old one the sweeper would take the event for a stuck one at once and
        # queue a second job processing it concurrently.
        event.status, event.attempts, event.queued_at = WebhookStatus.QUEUED.value, 0, datetime.now(UTC)
        session.commit()
        enqueue(get_redis(), "sync", "jobs.webhooks.process_event", event.id, job_id=f"webhook-{event.id}-retry")
        click.echo(f"re-queued #{event.id}")


def register(cli: click.Group) -> None:
    cli.add_command(group)
