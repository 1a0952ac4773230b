"""The demo's world: a Xero organisation and a QuickBooks company (emulated), and an accountant who
installs Cashline into both through the real OAuth consent pages."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import date
from urllib.parse import urljoin

import requests
from flask import Flask

from connectors.quickbooks.emulator.testing import QboSandbox, start_qbo_emulator
from connectors.sandbox.consent import read_consent_form
from connectors.sandbox.server import RunningServer, serve_in_thread
from connectors.xero.emulator.app import EmulatorState as XeroState
from connectors.xero.emulator.app import build_state, create_app

XERO_WEBHOOK_KEY = "demo-xero-webhook-key"
QBO_VERIFIER = "demo-qbo-verifier-token"


def free_port(preferred: int) -> int:
    """``preferred`` if it is free on loopback, else any free port."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])


@dataclass
class XeroWorld:
    state: XeroState
    server: RunningServer

    @property
    def url(self) -> str:
        return self.server.url


def start_xero(app_url: str, *, today: date, customers: int, invoices: int, port: int = 4010) -> XeroWorld:
    state = build_state(seed=7, customers=customers, invoices=invoices, today=today,
                        redirect_uris=(f"{app_url}/callback/xero",), webhook_url=f"{app_url}/webhooks/xero",
                        webhook_key=XERO_WEBHOOK_KEY)
    return XeroWorld(state, serve_in_thread(create_app(state), free_port(port)))


def start_qbo(app_url: str, *, today: date, customers: int, invoices: int, port: int = 4020) -> QboSandbox:
    return start_qbo_emulator(seed=8, customers=customers, invoices=invoices, today=today,
                              port=free_port(port), webhook_url=f"{app_url}/webhooks/qbo",
                              verifier_token=QBO_VERIFIER, redirect_uris=(f"{app_url}/callback/qbo",),
                              webhook_time_scale=0.01)


def point_app_at(app: Flask, xero: XeroWorld, qbo: QboSandbox) -> None:
    """Configure Cashline exactly as an operator would with the XERO_* / QBO_* settings."""
    from connectors.xero.emulator.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    app.config.update(
        XERO_CLIENT_ID=DEFAULT_CLIENT_ID, XERO_CLIENT_SECRET=DEFAULT_CLIENT_SECRET, XERO_WEBHOOK_KEY=XERO_WEBHOOK_KEY,
        XERO_IDENTITY_URL=xero.url, XERO_LOGIN_URL=xero.url, XERO_API_URL=xero.url,
        QBO_CLIENT_ID=qbo.client_id, QBO_CLIENT_SECRET=qbo.client_secret, QBO_WEBHOOK_VERIFIER_TOKEN=QBO_VERIFIER,
        QBO_DISCOVERY_URL=qbo.discovery_url, QBO_API_URL=qbo.url)


def submit_consent(browser: requests.Session, consent_page: requests.Response) -> requests.Response:
    """Click Allow on an emulator's consent page and follow the redirects back into the app."""
    form = read_consent_form(consent_page.text)
    if form.action is None:
        raise RuntimeError(f"no consent form at {consent_page.url}: {consent_page.text[:200]}")
    return browser.post(urljoin(consent_page.url, form.action), data={**form.fields, "decision": "allow"},
                        timeout=120)


def install(browser: requests.Session, app_url: str, platform: str) -> requests.Response:
    """What the accountant does: click Connect, then Allow on the platform's consent page."""
    consent = browser.get(f"{app_url}/connect/{platform}", timeout=60)
    consent.raise_for_status()
    landed = submit_consent(browser, consent)
    landed.raise_for_status()
    return landed
