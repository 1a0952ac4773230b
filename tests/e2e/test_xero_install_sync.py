"""Install from Xero (PKCE + OpenID), backfill, a signed webhook, and a disconnect made in Xero."""

from __future__ import annotations

from datetime import date

import pytest
import requests

from addon.models import Connection, Customer, Invoice, Tenant, TenantStatus, User
from connectors.countries import country_code
from connectors.xero.emulator.testing import start_xero_emulator
from jobs import sync as sync_jobs
from jobs.runtime import set_app
from tests.e2e.conftest import csrf_token, submit_consent

KEY = "xero-webhook-key"


@pytest.fixture
def xero(live_app):
    sandbox = start_xero_emulator(seed=13, customers=5, invoices=60, today=date.today(),
                                  webhook_url=f"{live_app.url}/webhooks/xero", webhook_key=KEY,
                                  redirect_uris=(f"{live_app.url}/callback/xero",))
    live_app.app.config.update(XERO_CLIENT_ID=sandbox.client_id, XERO_CLIENT_SECRET=sandbox.client_secret,
                               XERO_IDENTITY_URL=sandbox.url, XERO_LOGIN_URL=sandbox.url, XERO_API_URL=sandbox.url,
                               XERO_WEBHOOK_KEY=KEY)
    yield sandbox
    sandbox.stop()


def _install(live_app, browser: requests.Session) -> requests.Response:
    consent = browser.get(f"{live_app.url}/connect/xero", timeout=30)
    assert consent.status_code == 200
    assert "code_challenge" in consent.url  # PKCE
    return submit_consent(browser, consent)


def test_install_webhook_and_disconnect_in_xero(live_app, xero, db, redis_conn) -> None:
    browser = requests.Session()
    landed = _install(live_app, browser)
    assert landed.status_code == 200, landed.text[:400]
    tenant = db.query(Tenant).one()
    assert (tenant.platform, tenant.remote_id, tenant.name) == ("xero", xero.tenant_id, xero.store.name)
    assert db.query(Connection).one().remote_connection_id
    assert db.query(User).one().subject

    live_app.work(redis_conn)
    db.expire_all()
    assert db.query(Invoice).count() == len([i for i in xero.store.invoices.values() if i.type == "ACCREC"])
    # Each customer's country is mirrored from its postal (POBOX) address (free text) as ISO 3166.
    countries = {c.remote_id: c.country for c in db.query(Customer)}
    assert countries == {c.id: country_code(next(a["Country"] for a in c.addresses if a["AddressType"] == "POBOX"))
                         for c in xero.store.contacts.values()}
    assert any(countries.values())
    target = db.query(Invoice).filter_by(status="open").order_by(Invoice.remote_id).first()
    assert target is not None

    # Paid inside Xero: an INVOICE UPDATE webhook, then we re-read the invoice.
    xero.store.add_payment(target.remote_id, date.today(), target.amount_due)
    xero.state.hub.flush(f"{xero.url}/api.xro/2.0")  # what the end of an API request does
    assert xero.state.hub.drain()
    live_app.work(redis_conn)
    db.expire_all()
    assert db.get(Invoice, target.id).status == "paid"

    # The user removes the app in Xero: our next call is refused, the tenant needs a reconnect.
    xero.state.identity.connections.clear()
    set_app(live_app.app)
    assert sync_jobs.backfill_tenant(tenant.id) == {"needs_reauth": 1}
    db.expire_all()
    assert db.get(Tenant, tenant.id).status is TenantStatus.NEEDS_REAUTH
    page = browser.get(f"{live_app.url}/tenants/{tenant.id}", timeout=10)
    assert 'id="reconnect-banner"' in page.text

    # Reconnect: the same flow restores the connection.
    _install(live_app, browser)
    db.expire_all()
    assert db.get(Tenant, tenant.id).status is TenantStatus.CONNECTED


def test_disconnect_from_our_side_revokes_at_xero(live_app, xero, db, redis_conn) -> None:
    browser = requests.Session()
    landed = _install(live_app, browser)
    tenant = db.query(Tenant).one()
    resp = browser.post(f"{live_app.url}/tenants/{tenant.id}/disconnect", data={"csrf_token": csrf_token(landed)},
                        timeout=30)
    assert resp.status_code == 200
    db.expire_all()
    assert db.get(Tenant, tenant.id).status is TenantStatus.DISCONNECTED
    assert db.query(Connection).count() == 0
    assert not xero.state.identity.connections  # revoked at Xero too


def test_disconnect_without_csrf_token_is_refused(live_app, xero, db) -> None:
    browser = requests.Session()
    _install(live_app, browser)
    tenant = db.query(Tenant).one()
    resp = browser.post(f"{live_app.url}/tenants/{tenant.id}/disconnect", timeout=30)
    assert resp.status_code == 400
    db.expire_all()
    assert db.get(Tenant, tenant.id).status is TenantStatus.CONNECTED


def test_several_organisations_the_user_picks_one_and_the_rest_are_released(live_app, xero, db, monkeypatch) -> None:
    """A consent covering two organisations: Cashline asks which one, installs it, disconnects the other."""
    import uuid

    from connectors.xero.emulator.identity import Connection as XeroConnection

    identity = xero.state.identity
    real_connect = identity.connect

    def connect_two(client_id: str) -> None:
        real_connect(client_id)
        now = identity.clock.now()
        other = XeroConnection(str(uuid.uuid4()), str(uuid.uuid4()), "Second Org Ltd", client_id, "evt", now, now)
        identity.connections[other.id] = other

    monkeypatch.setattr(identity, "connect", connect_two)
    browser = requests.Session()
    picker = _install(live_app, browser)
    assert picker.status_code == 200
    assert "Which organisation?" in picker.text
    assert "Second Org Ltd" in picker.text
    assert db.query(Tenant).count() == 0  # nothing installed before the choice
    chosen = next(c.id for c in identity.connections.values() if c.tenant_id == xero.tenant_id)
    landed = browser.post(f"{live_app.url}/connect/xero/pick",
                          data={"csrf_token": csrf_token(picker), "connection_id": chosen}, timeout=30)
    assert landed.status_code == 200
    tenant = db.query(Tenant).one()
    assert tenant.remote_id == xero.tenant_id
    assert [c.tenant_id for c in identity.connections.values()] == [xero.tenant_id]  # the other one released


def test_disconnect_with_an_expired_access_token_still_removes_the_connection_and_revokes(
        live_app, xero, db, redis_conn) -> None:
    """Access tokens last 30 minutes: most disconnects find the stored one expired. The DELETE
    /connections/{id} must not fail on it, and its failure must not skip the revocation."""
    from datetime import UTC, datetime, timedelta

    browser = requests.Session()
    landed = _install(live_app, browser)
    tenant = db.query(Tenant).one()
    conn = db.query(Connection).one()
    conn.expires_at = datetime.now(UTC) - timedelta(minutes=5)  # as if the install was an hour ago
    db.commit()
    identity = xero.state.identity
    for grant in identity.access.values():
        grant.expires = identity.clock.now() - timedelta(minutes=5)
    resp = browser.post(f"{live_app.url}/tenants/{tenant.id}/disconnect", data={"csrf_token": csrf_token(landed)},
                        timeout=30)
    assert resp.status_code == 200
    assert not identity.connections  # removed at Xero
    assert all(rec.revoked for rec in identity.refresh.values() if rec.rotated is None)  # nothing left usable


def test_picking_one_organisation_keeps_the_connection_of_another_installed_tenant(
        live_app, xero, db, monkeypatch) -> None:
    """Org A was installed earlier; a later consent lists A and B and the user picks B: A's connection
    belongs to a live install and must not be deleted (only not-installed ones are released)."""
    import uuid

    from connectors.xero.emulator.identity import Connection as XeroConnection

    browser = requests.Session()
    _install(live_app, browser)  # organisation A
    installed = db.query(Tenant).one()
    identity = xero.state.identity
    real_connect = identity.connect
    second = str(uuid.uuid4())

    def connect_two(client_id: str) -> None:
        real_connect(client_id)
        now = identity.clock.now()
        if not any(c.tenant_id == second for c in identity.connections.values()):
            other = XeroConnection(str(uuid.uuid4()), second, "Second Org Ltd", client_id, "evt", now, now)
            identity.connections[other.id] = other

    monkeypatch.setattr(identity, "connect", connect_two)
    picker = _install(live_app, browser)
    assert "Which organisation?" in picker.text
    chosen = next(c.id for c in identity.connections.values() if c.tenant_id == second)
    landed = browser.post(f"{live_app.url}/connect/xero/pick",
                          data={"csrf_token": csrf_token(picker), "connection_id": chosen}, timeout=30)
    assert landed.status_code == 200
    db.expire_all()
    assert db.query(Tenant).count() == 2
    assert db.get(Tenant, installed.id).status is TenantStatus.CONNECTED
    assert sorted(c.tenant_id for c in identity.connections.values()) == sorted([xero.tenant_id, second])
