"""``cashline emulator xero``: serve a seeded Xero organisation on a local port (demo, sandbox, manual tests)."""

from __future__ import annotations

from datetime import datetime

import click
from werkzeug.serving import run_simple

from connectors.sandbox.limits import Limits
from connectors.xero.emulator.app import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REDIRECT_URIS,
    XERO_LIMITS,
    build_state,
    create_app,
)


@click.command(name="xero")
@click.option("--seed", type=int, default=7, show_default=True, help="Company generator seed.")
@click.option("--port", type=int, default=4010, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--customers", type=int, default=40, show_default=True)
@click.option("--invoices", type=int, default=1500, show_default=True)
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default="2026-11-01", show_default=True,
              help="The generated company's 'today' (history ends here).")
@click.option("--client-id", default=DEFAULT_CLIENT_ID, show_default=True)
@click.option("--client-secret", default=DEFAULT_CLIENT_SECRET, show_default=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True,
              help=f"Allowed redirect URI, repeatable [default: {', '.join(DEFAULT_REDIRECT_URIS)}].")
@click.option("--webhook-url", default=None, help="Subscribe this URL to CONTACT/INVOICE/CREDITNOTE events.")
@click.option("--webhook-key", default=None, help="Webhook signing key (required with --webhook-url).")
@click.option("--per-minute", type=int, default=XERO_LIMITS.per_minute, show_default=True)
@click.option("--per-day", type=int, default=XERO_LIMITS.per_day, show_default=True)
@click.option("--concurrent", type=int, default=XERO_LIMITS.concurrent, show_default=True)
def command(seed: int, port: int, host: str, customers: int, invoices: int, today: datetime, client_id: str,
            client_secret: str, redirect_uris: tuple[str, ...], webhook_url: str | None, webhook_key: str | None,
            per_minute: int, per_day: int, concurrent: int) -> None:
    """Run a wire-faithful Xero emulator (identity, Accounting API, connections, webhooks)."""
    if webhook_url and not webhook_key:
        raise click.UsageError("--webhook-key is required with --webhook-url")
    state = build_state(seed=seed, customers=customers, invoices=invoices, today=today.date(),
                        limits=Limits(per_minute, per_day, concurrent), client_id=client_id,
                        client_secret=client_secret,
                        redirect_uris=redirect_uris or DEFAULT_REDIRECT_URIS,
                        webhook_url=webhook_url, webhook_key=webhook_key)
    base = f"http://{host}:{port}"
    click.echo(f"Xero emulator for '{state.store.name}' (tenant {state.store.tenant_id})")
    click.echo(f"  {len(state.store.contacts)} contacts, {len(state.store.invoices)} invoices")
    click.echo(f"  authorize: {base}/identity/connect/authorize   token: {base}/connect/token")
    click.echo(f"  api:       {base}/api.xro/2.0   connections: {base}/connections")
    click.echo(f"  client_id={client_id} client_secret={client_secret}")
    click.echo(f"  redirect URIs: {', '.join(redirect_uris or DEFAULT_REDIRECT_URIS)}")
    run_simple(host, port, create_app(state), threaded=True, use_reloader=False)
