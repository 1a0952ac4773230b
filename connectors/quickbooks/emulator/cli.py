"""``cashline emulator qbo``: serve a seeded QuickBooks Online company on a local port."""

from __future__ import annotations

import click
from werkzeug.serving import run_simple

from connectors.quickbooks.emulator.app import create_app
from connectors.quickbooks.emulator.oauth import AUTHORIZE_PATH, DISCOVERY_PATH, REVOKE_PATH, TOKEN_PATH
from connectors.quickbooks.emulator.testing import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REALM_ID,
    DEFAULT_REDIRECT_URI,
    build_state,
)
from connectors.quickbooks.emulator.webhooks import CLOUDEVENTS, LEGACY
from connectors.sandbox.limits import Limits


@click.command(name="qbo")
@click.option("--seed", default=7, show_default=True, help="Company generator seed (same seed, same company).")
@click.option("--port", default=4020, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (loopback by default).")
@click.option("--customers", default=40, show_default=True, help="Number of customers to generate.")
@click.option("--invoices", default=1500, show_default=True, help="Number of invoices to generate.")
@click.option("--client-id", default=DEFAULT_CLIENT_ID, show_default=True, help="OAuth client id of the app.")
@click.option("--client-secret", default=DEFAULT_CLIENT_SECRET, show_default=True,
              help="OAuth client secret of the app.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, default=(DEFAULT_REDIRECT_URI,),
              show_default=True, help="Registered redirect URI (repeat for several).")
@click.option("--realm-id", default=DEFAULT_REALM_ID, show_default=True, help="The company's realmId.")
@click.option("--webhook-url", default=None, help="Endpoint to POST change notifications to.")
@click.option("--verifier-token", default=None, help="Webhook verifier token (signs intuit-signature).")
@click.option("--webhook-format", type=click.Choice([LEGACY, CLOUDEVENTS]), default=CLOUDEVENTS,
              show_default=True, help="Webhook payload format.")
@click.option("--webhook-time-scale", default=1.0, show_default=True,
              help="Multiply QBO's batching window and retry delays (0.01 = 100x faster).")
@click.option("--custom-field", "custom_fields", multiple=True,
              help="Define a sales-form custom field by name (up to three), e.g. 'Cashline Risk'.")
@click.option("--per-minute", default=500, show_default=True, help="Requests per minute per realm.")
@click.option("--concurrent", default=10, show_default=True, help="Concurrent requests per realm.")
def command(seed: int, port: int, host: str, customers: int, invoices: int, client_id: str,
            client_secret: str, redirect_uris: tuple[str, ...], realm_id: str, webhook_url: str | None,
            verifier_token: str | None, webhook_format: str, webhook_time_scale: float,
            custom_fields: tuple[str, ...], per_minute: int, concurrent: int) -> None:
    """Run a local QuickBooks Online emulator (OAuth, discovery, /v3 API, webhooks)."""
    if webhook_url and not verifier_token:
        raise click.UsageError("--webhook-url needs --verifier-token")
    if len(custom_fields) > 3:
        raise click.UsageError("QBO allows at most three sales-form custom fields")
    state, _ = build_state(seed, customers=customers, invoices=invoices,
                           limits=Limits(per_minute=per_minute, per_day=None, concurrent=concurrent),
                           webhook_url=webhook_url, verifier_token=verifier_token, webhook_format=webhook_format,
                           webhook_time_scale=webhook_time_scale, client_id=client_id,
                           client_secret=client_secret, redirect_uris=redirect_uris, realm_id=realm_id,
                           custom_fields={str(n): name for n, name in enumerate(custom_fields, start=1)})
    base = f"http://{host}:{port}"
    click.echo(f"QBO emulator: {state.store.company_name} (realmId {realm_id}), seed {seed}")
    click.echo(f"  discovery:     {base}{DISCOVERY_PATH}")
    click.echo(f"  authorize:     {base}{AUTHORIZE_PATH}")
    click.echo(f"  token:         {base}{TOKEN_PATH}")
    click.echo(f"  revoke:        {base}{REVOKE_PATH}")
    click.echo(f"  API base:      {base}/v3/company/{realm_id}")
    click.echo(f"  client id:     {client_id}")
    click.echo(f"  redirect URIs: {', '.join(redirect_uris)}")
    if webhook_url:
        click.echo(f"  webhooks:      {webhook_format} -> {webhook_url}")
    run_simple(host, port, create_app(state), threaded=True, use_reloader=False)
