"""`cashline dunning ...` commands: dry-run preview and a synchronous run for one tenant."""

from __future__ import annotations

import json
from datetime import date, datetime

import click
from flask.cli import with_appcontext

from addon.cli.common import tenant_by_id


@click.group(name="dunning")
def group() -> None:
    """Payment reminders: preview who gets what, or run the sequence now."""


@group.command("preview")
@click.option("--tenant", "tenant_id", required=True, type=int, help="Tenant id.")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The run to preview (default: today in the tenant's timezone).")
@click.option("--json", "as_json", is_flag=True, help="Print the planned actions as JSON.")
@with_appcontext
def preview_command(tenant_id: int, day: datetime | None, as_json: bool) -> None:
    """Print the reminders the run of DATE would plan (invoice ids, stage, tone, channel, send time,
    reason); nothing is sent and nothing is written."""
    from flask import current_app

    from addon.extensions import get_db
    from addon.services.dunning import preview, sms_configured
    from addon.services.dunning_policies import tenant_today

    session = get_db().session
    tenant = tenant_by_id(tenant_id)
    when: date = day.date() if day else tenant_today(session, tenant)
    actions = preview(session, tenant, when, sms_enabled=sms_configured(current_app.config))
    session.rollback()  # a preview leaves no trace, not even a seeded default policy
    if as_json:
        click.echo(json.dumps(actions, indent=2))
        return
    if not actions:
        click.echo(f"No reminders planned for {when.isoformat()}.")
    for a in actions:
        click.echo(f"{a['send_at']}  {a['channel']:<5} {a['stage']:<12} {a['tone']:<8} {a['customer']}: "
                   f"{', '.join(a['invoice_ids'])}{'  [needs approval]' if a['needs_approval'] else ''}")
        click.echo(f"    {a['reason']}")


@group.command("run")
@click.option("--tenant", "tenant_id", required=True, type=int, help="Tenant id.")
@with_appcontext
def run_command(tenant_id: int) -> None:
    """Run the dunning sequence for one tenant now (what the hourly job does) and print the summary."""
    from jobs.dunning import run_tenant

    tenant_by_id(tenant_id)
    click.echo(json.dumps(run_tenant(tenant_id), indent=2))


def register(cli: click.Group) -> None:
    cli.add_command(group)
