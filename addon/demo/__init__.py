"""The demo pipeline (`cashline demo`): an ordered list of steps, each printing its progress.

It builds a real world on loopback: the Cashline app served on a port, a Xero organisation and a
QuickBooks company (the emulators), an accountant installing the app into both through the consent
pages, signed webhooks, RQ jobs on the real Redis — then serves the dashboard. Every capability adds
its step here.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests
from flask import Flask
from sqlalchemy import func, select

from addon import migrate

Echo = Callable[[str], None]


@dataclass
class DemoState:
    app: Flask
    port: int
    echo: Echo
    today: date = field(default_factory=date.today)
    size: str = "normal"
    facts: dict[str, Any] = field(default_factory=dict)
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _work(state: DemoState, *queues: str) -> None:
    """Run the queued jobs to completion with an RQ worker in this process."""
    from addon.extensions import get_redis
    from addon.queueing import run_burst
    from jobs.runtime import set_app

    set_app(state.app)
    with state.app.app_context():
        run_burst(get_redis(), queues)


def _tenant(session: Any, tenant_id: int) -> Any:
    from addon.models import Tenant

    return session.get_one(Tenant, tenant_id)


def step_migrate(state: DemoState) -> None:
    migrate.upgrade(state.app.config["DATABASE_URL"])
    state.echo(f"    database at head: {state.app.config['DATABASE_URL']}")
    with state.app.app_context():
        from addon.extensions import get_redis

        get_redis().ping()
    state.echo(f"    redis reachable: {state.app.config['REDIS_URL']}")


def step_world(state: DemoState) -> None:
    from addon.demo import world
    from connectors.sandbox.server import serve_in_thread

    sizes = {"small": (8, 150, 8, 120), "normal": (20, 500, 15, 400)}[state.size]
    state.app.config["PUBLIC_URL"] = state.url
    # The cold-start prior is generated: a modest one keeps the demo's training to seconds.
    state.app.config.update(SCORING_PRIOR_INVOICES=600, SCORING_PRIOR_SEEDS="101")
    state.facts["server"] = serve_in_thread(state.app, state.port)
    state.cleanups.append(state.facts["server"].stop)
    xero = world.start_xero(state.url, today=state.today, customers=sizes[0], invoices=sizes[1])
    qbo = world.start_qbo(state.url, today=state.today, customers=sizes[2], invoices=sizes[3])
    state.cleanups += [xero.server.stop, qbo.stop]
    world.point_app_at(state.app, xero, qbo)
    state.facts.update(xero=xero, qbo=qbo)
    state.echo(f"    Cashline app          {state.url}")
    state.echo(f"    Xero emulator         {xero.url}   ({xero.state.store.name}, {sizes[1]} invoices over 26 months)")
    state.echo(f"    QuickBooks emulator   {qbo.url}   ({qbo.store.company_name}, {sizes[3]} invoices)")


def step_install(state: DemoState) -> None:
    from addon.demo import world
    from addon.extensions import get_db
    from addon.models import Tenant

    browser = requests.Session()
    for platform in ("xero", "qbo"):
        world.install(browser, state.url, platform)
    state.facts["browser"] = browser
    with state.app.app_context():
        tenants = get_db().session.scalars(select(Tenant).order_by(Tenant.id)).all()
        state.facts["tenants"] = {t.platform: t.id for t in tenants}
        for t in tenants:
            state.echo(f"    installed: {t.platform:4} {t.name} (tenant {t.id}, {t.status.value}); tokens encrypted")


def step_sync(state: DemoState) -> None:
    from addon.extensions import get_db
    from addon.models import Customer, Invoice, Payment

    started = time.monotonic()
    _work(state, "sync", "default")
    with state.app.app_context():
        session = get_db().session
        for platform, tenant_id in state.facts["tenants"].items():
            counts = [session.scalar(select(func.count()).select_from(m).where(m.tenant_id == tenant_id))
                      for m in (Customer, Invoice, Payment)]
            open_count = session.scalar(select(func.count()).select_from(Invoice).where(
                Invoice.tenant_id == tenant_id, Invoice.status == "open"))
            state.echo(f"    {platform:4}: {counts[0]} customers, {counts[1]} invoices ({open_count} open), "
                       f"{counts[2]} payments mirrored")
    elapsed = time.monotonic() - started
    state.echo(f"    backfill through the platform APIs (inside their rate limits) took {elapsed:.1f}s")


def step_score(state: DemoState) -> None:
    from addon.extensions import get_db
    from addon.models import AuditLog, ModelVersion, RiskScore

    _work(state, "scoring")
    with state.app.app_context():
        session = get_db().session
        for platform, tenant_id in state.facts["tenants"].items():
            bands = dict(session.execute(select(RiskScore.band, func.count()).where(RiskScore.tenant_id == tenant_id)
                                         .group_by(RiskScore.band)).all())
            model = session.scalar(select(ModelVersion).where(ModelVersion.tenant_id == tenant_id,
                                                              ModelVersion.active))
            example = session.scalar(select(RiskScore).where(RiskScore.tenant_id == tenant_id)
                                     .order_by(RiskScore.p_late.desc()))
            state.echo(f"    {platform:4}: model {model.version if model else '-'} ({model.kind if model else '-'}); "
                       f"bands {bands}")
            if example is not None:
                state.echo(f"          riskiest: P(late)={float(example.p_late):.0%}, pays in "
                           f"{example.p10_days}..{example.p90_days} days after due (80%); "
                           f"{'; '.join(example.reasons[:2])}")
        written = {tenant_id: count for tenant_id, count in session.execute(
            select(AuditLog.tenant_id, func.count()).where(AuditLog.action == "risk.written_back")
            .group_by(AuditLog.tenant_id)).all()}
    tenants = state.facts["tenants"]
    state.echo(f"    risk tags written back (Xero history notes, QBO note/custom field): "
               f"xero={written.get(tenants['xero'], 0)}, qbo={written.get(tenants['qbo'], 0)}")


def step_webhook(state: DemoState) -> None:
    """Pay an invoice inside QuickBooks: a signed webhook arrives, is stored, queued and applied."""
    from addon.extensions import get_db
    from addon.models import Invoice, WebhookEvent

    qbo = state.facts["qbo"]
    tenant_id = state.facts["tenants"]["qbo"]
    with state.app.app_context():
        session = get_db().session
        inv = session.scalar(select(Invoice).where(Invoice.tenant_id == tenant_id, Invoice.status == "open")
                             .order_by(Invoice.due_date))
        before = session.scalar(select(func.count()).select_from(WebhookEvent))
    if inv is None:
        state.echo("    no open invoice to pay")
        return
    remote = qbo.store.get("Invoice", inv.remote_id)
    resp = qbo.user_api().post("payment", {"CustomerRef": {"value": remote["CustomerRef"]["value"]},
                                           "TotalAmt": str(inv.amount_due), "Line": [{
                                               "Amount": str(inv.amount_due),
                                               "LinkedTxn": [{"TxnId": inv.remote_id, "TxnType": "Invoice"}]}]})
    resp.raise_for_status()
    qbo.drain_webhooks()
    _work(state, "sync", "default")
    with state.app.app_context():
        session = get_db().session
        after = session.get_one(Invoice, inv.id)
        received = (session.scalar(select(func.count()).select_from(WebhookEvent)) or 0) - (before or 0)
    state.echo(f"    paid {inv.number} ({inv.currency} {inv.amount_due}) in QuickBooks -> {received} signed webhook(s) "
               f"-> mirror now says '{after.status}', amount due {after.amount_due}")


def step_collect(state: DemoState) -> None:
    """A collector records a promise to pay and a dispute from the worklist (JSON API, as the signed-in owner)."""
    import re

    from addon.domain.dunning.stops import stop_reason
    from addon.extensions import get_db
    from addon.models import Invoice, RiskScore
    from addon.services.dunning_inputs import to_dunning_invoice

    browser: requests.Session = state.facts["browser"]
    # The browser is signed in as the owner of the last organisation it connected (QuickBooks).
    pages = {platform: browser.get(f"{state.url}/tenants/{tenant_id}/worklist", timeout=30)
             for platform, tenant_id in state.facts["tenants"].items()}
    platform = next((p for p in ("xero", "qbo") if pages.get(p) is not None and pages[p].ok), None)
    if platform is None:
        state.echo("    the demo browser is not signed in to either organisation")
        return
    tenant_id, page = state.facts["tenants"][platform], pages[platform]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    work = browser.get(f"{state.url}/api/tenants/{tenant_id}/worklist", timeout=30).json()
    if token is None or len(work) < 2:
        state.echo("    nothing on the worklist to record against")
        return
    headers = {"X-CSRFToken": token.group(1), "Referer": f"{state.url}/tenants/{tenant_id}/worklist"}
    promised = (date.today() + timedelta(days=7)).isoformat()
    first, second = work[0], work[1]
    api = f"{state.url}/api/tenants/{tenant_id}/invoices"
    kept = browser.post(f"{api}/{first['invoice_id']}/promise", json={"promised_on": promised,
                                                                     "note": "customer called: paying next week"},
                        headers=headers, timeout=30)
    disputed = browser.post(f"{api}/{second['invoice_id']}/dispute", json={"reason": "wrong quantity invoiced"},
                            headers=headers, timeout=30)
    kept.raise_for_status()
    disputed.raise_for_status()
    _work(state, "scoring")  # each change queued a (coalesced) re-score of the organisation
    with state.app.app_context():
        session = get_db().session
        for item in (first, second):
            inv = session.get_one(Invoice, item["invoice_id"])
            why = stop_reason(to_dunning_invoice(inv, "", None), date.today())
            score = session.scalar(select(RiskScore).where(RiskScore.invoice_id == inv.id))
            state.echo(f"    {platform}: {inv.number} ({inv.currency} {inv.amount_due}, "
                       f"{item['days_overdue']} days overdue): dunning now stops ({why}); audited; re-scored: "
                       f"{'; '.join(score.reasons[:2]) if score else '-'}")
    state.facts["collect"] = {"promise": kept.json(), "dispute": disputed.json()}
    _hold_one_customer(state, browser, tenant_id, platform, headers, work,
                       {first["customer_id"], second["customer_id"]})


def _hold_one_customer(state: DemoState, browser: requests.Session, tenant_id: int, platform: str,
                       headers: dict[str, str], work: list[dict[str, Any]], taken: set[int | None]) -> None:
    """A credit controller agrees a payment plan with another customer: its chasing is held for 30 days."""
    other = next((row for row in work if row["customer_id"] is not None and row["customer_id"] not in taken), None)
    if other is None:
        return
    until = (date.today() + timedelta(days=30)).isoformat()
    held = browser.post(f"{state.url}/api/tenants/{tenant_id}/customers/{other['customer_id']}/hold",
                        json={"reason": "payment plan agreed", "until": until}, headers=headers, timeout=30)
    held.raise_for_status()
    body = held.json()
    open_invoices = sum(1 for row in work if row["customer_id"] == other["customer_id"])
    state.echo(f"    {platform}: {body['name']} on hold ({body['hold']['note']}): no reminders for its "
               f"{open_invoices} overdue invoice(s), which stay on the worklist with the hold shown; audited")
    state.facts["collect"]["hold"] = body


def _first_sending_hour(tenant_id: int, now: datetime) -> datetime:
    """The first hour from ``now`` at which the tenant's quiet hours and business days allow a reminder."""
    from zoneinfo import ZoneInfo

    from addon.domain.dunning.timing import next_allowed_time
    from addon.services.dunning_policies import load_policies
    from jobs.runtime import job_context

    with job_context(tenant_id) as ctx:
        settings = load_policies(ctx.session, _tenant(ctx.session, tenant_id)).settings
        ctx.session.commit()  # the default policy, if it was just seeded
    allowed = next_allowed_time(now, ZoneInfo(settings.timezone), settings)
    return allowed.replace(minute=0, second=0, microsecond=0)


def step_dunning(state: DemoState) -> None:
    """Seed the default policy and run the next 24 hourly dunning runs against a local SMTP server."""

    from addon.demo.mailbox import DemoMailbox
    from addon.demo.world import free_port
    from addon.extensions import get_db
    from addon.models import AuditLog
    from addon.services.dunning import DunningMailer, run_dunning
    from jobs.runtime import connector_factory, job_context

    mailbox = DemoMailbox(free_port(2525)).start()
    state.cleanups.append(mailbox.stop)
    state.app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=mailbox.port, SMTP_STARTTLS=False)
    state.echo(f"    local SMTP server on 127.0.0.1:{mailbox.port} (nothing leaves this machine)")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    totals: dict[str, int] = {}
    state.echo("    each reminder re-reads its invoices and writes a note in the ERP; Xero allows 60 calls a "
               "minute, so the shared rate limiter paces the Xero runs (a minute or two)")
    for platform, tenant_id in state.facts["tenants"].items():
        start = _first_sending_hour(tenant_id, now)
        if start > now:  # on a Friday evening or a weekend the next 24 hours would send nothing
            state.echo(f"    {platform:4}: no reminders go out before {start:%a %H:%M} UTC (quiet hours/weekend "
                       f"in the tenant's timezone): the runs start there")
        started = time.monotonic()
        for hour in range(24):  # what the hourly cron does over the next day
            with job_context(tenant_id) as ctx:
                tenant = _tenant(ctx.session, tenant_id)
                summary = run_dunning(ctx.session, tenant, connector_factory(ctx)(tenant),
                                      start + timedelta(hours=hour), DunningMailer.from_config(state.app.config),
                                      actor="demo:dunning")
            for key in ("sent", "task", "awaiting_approval"):
                totals[f"{platform}:{key}"] = totals.get(f"{platform}:{key}", 0) + int(summary.get(key, 0))
        state.echo(f"    {platform:4}: 24 hourly runs done in {time.monotonic() - started:.0f}s")
    with state.app.app_context():
        notes = get_db().session.scalar(select(func.count()).select_from(AuditLog)
                                        .where(AuditLog.action.like("reminder%")))
    for platform in state.facts["tenants"]:
        state.echo(f"    {platform:4}: {totals.get(platform + ':sent', 0)} reminder(s) sent, "
                   f"{totals.get(platform + ':task', 0)} task(s) for the worklist, "
                   f"{totals.get(platform + ':awaiting_approval', 0)} awaiting approval")
    state.facts["emails"] = len(mailbox.messages)
    state.echo(f"    {len(mailbox.messages)} emails in the SMTP sink; {notes} audit records; ERP notes written")
    for msg in mailbox.messages[:3]:
        state.echo(f"      to {msg['To']}: {msg['Subject']}")


def step_reconcile(state: DemoState) -> None:
    """A bank statement arrives: import, match against open invoices, post payments to Xero."""
    from addon.demo.statement import MAPPING, build_statement
    from addon.extensions import get_db
    from addon.services.reconcile_matching import open_invoices
    from addon.services.reconciliation import import_statement, reconcile
    from jobs.runtime import connector_factory, job_context

    tenant_id = state.facts["tenants"]["xero"]
    with state.app.app_context():
        session = get_db().session
        # The statement pays invoices the matching engine will see: its own open-ledger query.
        ledger = [{"number": i.number, "customer": i.customer_name, "amount_due": i.amount_due,
                   "currency": i.currency} for i in open_invoices(session, _tenant(session, tenant_id))]
    data = build_statement(ledger, state.today)
    with job_context(tenant_id) as ctx:
        tenant = _tenant(ctx.session, tenant_id)
        imported = import_statement(ctx.session, tenant, data, "demo-statement.csv", MAPPING)
    with job_context(tenant_id) as ctx:
        again = import_statement(ctx.session, _tenant(ctx.session, tenant_id), data, "demo-statement.csv",
                                 MAPPING)
    state.echo(f"    imported {imported['imported']} lines ({imported['format']}); importing the same file "
               f"again added {again['imported']}")
    state.facts["reconcile"] = {"imported": imported, "again": again}
    with job_context(tenant_id) as ctx:
        tenant = _tenant(ctx.session, tenant_id)
        summary = reconcile(ctx.session, tenant, connector_factory(ctx)(tenant), imported["statement_id"],
                            datetime.now(UTC), actor="demo:reconcile")
        residuals = _posted_residuals(ctx.session, imported["statement_id"])
    state.facts["reconcile"]["summary"] = summary
    state.facts["reconcile"]["residuals"] = residuals
    state.echo(f"    matched: {summary.get('auto', 0)} auto-posted, {summary.get('suggest', 0)} suggested, "
               f"{summary.get('none', 0)} unmatched; {summary.get('posted', 0)} payment(s) posted to Xero")
    if residuals.get("combined"):
        state.echo(f"    {residuals['combined']} deposit(s) paying several invoices, each posted as one Xero batch "
                   "payment")
    if residuals.get("fee") or residuals.get("overpayment"):
        state.echo(f"    booked: {residuals.get('fee', 0)} bank fee(s) as Spend Money to 404 Bank Fees, "
                   f"{residuals.get('overpayment', 0)} overpayment(s) left as customer credit (Xero Overpayment)")
    state.echo("    (a 'bad signature' warning here is Xero's deliberately mis-signed intent-to-receive probe before"
               " its first webhook, rejected with 401 as Xero requires)")
    _bank_return(state, tenant_id, imported["statement_id"])
    state.echo(f"    exception queue: {state.url}/tenants/{tenant_id}/reconciliation")


def _bank_return(state: DemoState, tenant_id: int, statement_id: int) -> None:
    """The next day the bank takes one posted payment back (a SEPA return): flagged for a human, the ERP
    payment left alone."""
    from addon.demo.statement import build_return
    from addon.models import BankLine, Match
    from addon.services.reconciliation import import_statement, reconcile
    from jobs.runtime import connector_factory, job_context

    with job_context(tenant_id) as ctx:
        posted = ctx.session.scalars(
            select(BankLine).join(Match, Match.bank_line_id == BankLine.id)
            .where(BankLine.statement_id == statement_id, Match.status == "posted",
                   BankLine.counterparty_name.is_not(None)).order_by(BankLine.id)).first()
        if posted is None:
            return
        payment = {"amount": posted.amount, "currency": posted.currency, "payer": posted.counterparty_name,
                   "text": posted.remittance_text or ""}
    data = build_return(payment, state.today + timedelta(days=1))
    with job_context(tenant_id) as ctx:
        tenant = _tenant(ctx.session, tenant_id)
        imported = import_statement(ctx.session, tenant, data, "demo-return.xml")
        summary = reconcile(ctx.session, tenant, connector_factory(ctx)(tenant), imported["statement_id"],
                            datetime.now(UTC), actor="demo:reconcile")
        flagged = ctx.session.scalars(select(Match.explanation).join(BankLine, BankLine.id == Match.bank_line_id)
                                      .where(BankLine.statement_id == imported["statement_id"],
                                             Match.decision == "reversal")).first()
    state.facts["reconcile"]["return"] = summary
    state.echo(f"    next day ({imported['format']}): the bank returned {payment['amount']} {payment['currency']} "
               f"from {payment['payer']}; {summary.get('reversals', 0)} reversal(s) flagged for a human")
    if flagged:
        state.echo(f"      {flagged}")


def _posted_residuals(session: Any, statement_id: int) -> dict[str, int]:
    """How many posted matches of the statement had each residual (fee, overpayment, ...), and how many
    paid several invoices at once (``combined``)."""
    from addon.models import BankLine, Match

    posted = session.execute(select(Match.residual, Match.allocations).join(BankLine, BankLine.id == Match.bank_line_id)
                             .where(BankLine.statement_id == statement_id, Match.status == "posted")).all()
    counts = Counter(str(residual) for residual, _ in posted if residual)
    # One deposit for several invoices: posted to Xero as one batch payment.
    counts["combined"] = sum(1 for _, allocations in posted if len(allocations) > 1)
    return {kind: n for kind, n in counts.items() if n}


STEPS: list[tuple[str, Callable[[DemoState], None]]] = [
    ("Migrate the database and check Redis", step_migrate),
    ("Start the Cashline app and the emulated Xero and QuickBooks companies", step_world),
    ("Install Cashline into both (OAuth consent, OpenID sign-in)", step_install),
    ("Backfill invoices, contacts, payments and credit notes (RQ sync jobs)", step_sync),
    ("Score every open invoice (XGBoost) and write risk notes back", step_score),
    ("React to a payment made in QuickBooks (signed webhook)", step_webhook),
    ("Record a promise to pay and a dispute, and hold a customer's chasing, from the worklist", step_collect),
    ("Chase overdue invoices: the next 24 hourly dunning runs (real SMTP)", step_dunning),
    ("Reconcile a bank statement against open Xero invoices (and a payment the bank returns)", step_reconcile),
]


def run_demo(app: Flask, *, port: int, serve: bool, echo: Echo, size: str = "normal") -> DemoState:
    state = DemoState(app=app, port=port, echo=echo, size=size)
    started = datetime.now(UTC)
    try:
        for n, (title, step) in enumerate(STEPS, start=1):
            echo(f"[{n}/{len(STEPS)}] {title} ...")
            t0 = time.monotonic()
            step(state)
            echo(f"    done in {time.monotonic() - t0:.1f}s")
        echo(f"\nDemo ready in {(datetime.now(UTC) - started).total_seconds():.0f}s.")
        echo(f"Open {state.url}/ and click 'Connect to Xero' or 'Connect to QuickBooks', then Allow on the "
             "sandbox consent page: you are signed in as the sandbox owner and land on the organisation.")
        for platform, tenant_id in state.facts.get("tenants", {}).items():
            echo(f"  {platform:4} dashboard: {state.url}/tenants/{tenant_id}/dashboard")
        if serve:
            echo("Press Ctrl+C to stop.")
            threading.Event().wait()
    finally:
        if not serve:
            for cleanup in reversed(state.cleanups):
                cleanup()
    return state
