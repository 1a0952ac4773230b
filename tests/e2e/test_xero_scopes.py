"""A Xero grant without a scope Cashline uses, end to end (our app was created after 2 March 2026, so the
emulator registers it granular-only): an optional read refused leaves the tenant syncing with a warning
naming the scope; a required one refused marks it needs-reauth with that scope in the banner; a
reconnect with Cashline's full scopes clears both."""

from __future__ import annotations

from datetime import date

import pytest
import requests

from addon.models import Connection, Invoice, Tenant, TenantStatus
from addon.services import install
from connectors.xero.emulator.testing import start_xero_emulator
from jobs import sync as sync_jobs
from jobs.runtime import set_app
from tests.e2e.conftest import submit_consent

CASHLINE_SCOPES = install.XERO_SCOPES  # read before any test patches it
# What an install before Cashline asked for accounting.settings.read was granted.
OLD_SCOPES = ("offline_access openid profile email accounting.invoices accounting.payments "
              "accounting.banktransactions accounting.contacts")


@pytest.fixture
def xero(live_app):
    sandbox = start_xero_emulator(seed=13, customers=4, invoices=30, today=date.today(), granular_only=True,
                                  redirect_uris=(f"{live_app.url}/callback/xero",))
    live_app.app.config.update(XERO_CLIENT_ID=sandbox.client_id, XERO_CLIENT_SECRET=sandbox.client_secret,
                               XERO_IDENTITY_URL=sandbox.url, XERO_LOGIN_URL=sandbox.url, XERO_API_URL=sandbox.url)
    yield sandbox
    sandbox.stop()


def _install(live_app, browser: requests.Session) -> requests.Response:
    consent = browser.get(f"{live_app.url}/connect/xero", timeout=30)
    assert consent.status_code == 200, consent.text[:300]
    return submit_consent(browser, consent)


def _receivables(xero) -> int:
    return len([i for i in xero.store.invoices.values() if i.type == "ACCREC"])


def test_the_install_asks_for_and_stores_cashlines_granular_scopes(live_app, xero, db, redis_conn) -> None:
    browser = requests.Session()
    consent = browser.get(f"{live_app.url}/connect/xero", timeout=30)
    assert "invalid_scope" not in consent.text  # a granular-only app may ask for every one of them
    assert submit_consent(browser, consent).status_code == 200
    assert set(db.query(Connection).one().scopes.split()) == set(install.XERO_SCOPES.split())
    live_app.work(redis_conn)
    db.expire_all()
    tenant = db.query(Tenant).one()
    assert tenant.status is TenantStatus.CONNECTED
    assert tenant.base_currency == xero.store.base_currency
    assert db.query(Invoice).count() == _receivables(xero)
    assert "missing_scopes" not in tenant.settings


def test_an_old_grant_without_settings_read_syncs_and_says_reconnecting_would_grant_it(
        live_app, xero, db, redis_conn, monkeypatch) -> None:
    monkeypatch.setattr(install, "XERO_SCOPES", OLD_SCOPES)
    browser = requests.Session()
    assert _install(live_app, browser).status_code == 200
    live_app.work(redis_conn)  # the install's backfill: GET /Organisation is refused
    db.expire_all()
    tenant = db.query(Tenant).one()
    assert tenant.status is TenantStatus.CONNECTED  # not needs_reauth for an optional read
    assert db.query(Invoice).count() == _receivables(xero)  # and the sync went on without it
    assert tenant.base_currency is None
    assert tenant.settings["missing_scopes"] == {"organisation": "accounting.settings.read"}
    page = browser.get(f"{live_app.url}/tenants/{tenant.id}", timeout=10).text
    assert 'id="scope-warning"' in page
    assert "accounting.settings.read" in page
    assert 'id="reconnect-banner"' not in page

    set_app(live_app.app)
    assert "needs_reauth" not in sync_jobs.sync_tenant(tenant.id)  # incremental syncs carry on too

    monkeypatch.setattr(install, "XERO_SCOPES", CASHLINE_SCOPES)
    _install(live_app, browser)  # reconnect with Cashline's scopes
    db.expire_all()
    assert "missing_scopes" not in db.get(Tenant, tenant.id).settings
    assert sync_jobs.backfill_tenant(tenant.id)["invoices"] == _receivables(xero)
    db.expire_all()
    assert db.get(Tenant, tenant.id).base_currency == xero.store.base_currency
    assert 'id="scope-warning"' not in browser.get(f"{live_app.url}/tenants/{tenant.id}", timeout=10).text


def test_a_grant_without_invoices_read_needs_reauth_naming_the_scope(live_app, xero, db, redis_conn,
                                                                    monkeypatch) -> None:
    monkeypatch.setattr(install, "XERO_SCOPES", "offline_access openid profile email accounting.contacts "
                                                "accounting.payments accounting.settings.read")
    browser = requests.Session()
    assert _install(live_app, browser).status_code == 200
    live_app.work(redis_conn)
    db.expire_all()
    tenant = db.query(Tenant).one()
    assert tenant.status is TenantStatus.NEEDS_REAUTH
    assert "accounting.invoices.read" in tenant.settings["reauth_reason"]
    assert db.query(Invoice).count() == 0
    page = browser.get(f"{live_app.url}/tenants/{tenant.id}", timeout=10).text
    assert 'id="reconnect-banner"' in page
    assert "accounting.invoices.read" in page

    monkeypatch.setattr(install, "XERO_SCOPES", CASHLINE_SCOPES)
    _install(live_app, browser)
    db.expire_all()
    tenant = db.get(Tenant, tenant.id)
    assert tenant.status is TenantStatus.CONNECTED
    assert "reauth_reason" not in tenant.settings
