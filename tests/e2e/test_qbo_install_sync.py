"""Install from QuickBooks, backfill, react to a webhook, and handle a disconnect — all over HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from addon.models import Customer, Invoice, Membership, Role, Tenant, TenantStatus, User, WebhookEvent
from connectors.countries import country_code
from connectors.quickbooks.emulator.testing import start_qbo_emulator
from tests.e2e.conftest import csrf_token, submit_consent

VERIFIER = "qbo-verifier-token"


@pytest.fixture
def qbo(live_app):
    sandbox = start_qbo_emulator(seed=11, customers=5, invoices=30, webhook_url=f"{live_app.url}/webhooks/qbo",
                                 verifier_token=VERIFIER, redirect_uris=(f"{live_app.url}/callback/qbo",),
                                 webhook_format="legacy")
    live_app.app.config.update(QBO_CLIENT_ID=sandbox.client_id, QBO_CLIENT_SECRET=sandbox.client_secret,
                               QBO_DISCOVERY_URL=sandbox.discovery_url, QBO_API_URL=sandbox.url,
                               QBO_WEBHOOK_VERIFIER_TOKEN=VERIFIER)
    yield sandbox
    sandbox.stop()


def _install(live_app, browser: requests.Session) -> requests.Response:
    consent = browser.get(f"{live_app.url}/connect/qbo", timeout=30)
    assert consent.status_code == 200
    assert "Allow" in consent.text
    return submit_consent(browser, consent)


def test_install_backfill_webhook_and_disconnect(live_app, qbo, db, redis_conn) -> None:
    browser = requests.Session()
    landed = _install(live_app, browser)
    assert landed.status_code == 200, landed.text[:400]
    assert "The first sync has started" in landed.text

    tenant = db.query(Tenant).one()
    assert (tenant.platform, tenant.remote_id, tenant.status) == ("qbo", qbo.realm_id, TenantStatus.CONNECTED)
    user = db.query(User).one()
    assert user.email == "owner@sandbox.example"  # from the verified id_token
    assert db.query(Membership).one().role is Role.ADMIN

    live_app.work(redis_conn)  # the backfill enqueued by the install
    db.expire_all()
    open_before = {i.remote_id: i.amount_due for i in db.query(Invoice).filter_by(status="open")}
    assert db.query(Invoice).count() == len(qbo.store.all("Invoice")) > 0
    # Each customer's country is mirrored from its billing address (free text) as ISO 3166.
    countries = {c.remote_id: c.country for c in db.query(Customer)}
    assert countries == {c["Id"]: country_code((c.get("BillAddr") or {}).get("Country"))
                         for c in qbo.store.all("Customer")}
    assert any(countries.values())
    assert open_before
    # QuickBooks keeps no paid date: each paid invoice is dated by the latest payment applied to it.
    last_payment: dict[str, str] = {}
    for payment in qbo.store.all("Payment"):
        for line in payment["Line"]:
            for txn in line["LinkedTxn"]:
                if txn["TxnType"] == "Invoice":
                    last_payment[txn["TxnId"]] = max(last_payment.get(txn["TxnId"], ""), payment["TxnDate"])
    paid_dates = {i.remote_id: i.fully_paid_on.isoformat() if i.fully_paid_on else None
                  for i in db.query(Invoice).filter_by(status="paid")}
    assert paid_dates
    assert paid_dates == {remote_id: last_payment.get(remote_id) for remote_id in paid_dates}

    # A user records a payment in QuickBooks: the emulator sends a signed webhook, we re-read.
    remote_id, due = sorted(open_before.items())[0]
    invoice = qbo.store.get("Invoice", remote_id)
    api = qbo.user_api(qbo_token(qbo))
    resp = api.post("payment", {"CustomerRef": {"value": invoice["CustomerRef"]["value"]},
                                "TotalAmt": str(due), "Line": [{"Amount": str(due), "LinkedTxn": [
                                    {"TxnId": remote_id, "TxnType": "Invoice"}]}]})
    assert resp.status_code == 200, resp.text
    qbo.drain_webhooks()
    assert db.query(WebhookEvent).count() >= 1
    live_app.work(redis_conn)
    db.expire_all()
    paid = db.query(Invoice).filter_by(remote_id=remote_id).one()
    assert paid.amount_due == Decimal("0")
    assert paid.status == "paid"
    assert paid.fully_paid_on is not None
    assert paid.fully_paid_on.isoformat() == resp.json()["Payment"]["TxnDate"]

    # The user disconnects the app inside QuickBooks (Intuit revokes the grant), then Intuit sends the
    # browser to our Disconnect URL.
    _disconnect_inside_quickbooks(live_app, qbo, db, tenant.id)
    page = browser.get(f"{live_app.url}/disconnect/qbo", params={"realmId": qbo.realm_id}, timeout=10)
    assert page.status_code == 200
    db.expire_all()
    assert db.get(Tenant, tenant.id).status is TenantStatus.DISCONNECTED
    home = browser.get(f"{live_app.url}/tenants/{tenant.id}", timeout=10)
    assert 'id="reconnect-banner"' in home.text


def test_an_id_token_not_signed_by_the_platform_key_is_refused(live_app, qbo, db, monkeypatch) -> None:
    from joserfc.jwk import RSAKey

    from connectors.sandbox.openid import IdTokenSigner

    # Same key id, different key: only a real signature check notices.
    forger = IdTokenSigner(RSAKey.generate_key(2048, parameters={"kid": "emulator-1"}))
    monkeypatch.setattr(qbo.state.oauth.id_tokens, "sign", forger.sign)
    landed = _install(live_app, requests.Session())
    assert landed.status_code == 400
    assert "invalid id_token" in landed.text
    assert db.query(Tenant).count() == 0
    assert db.query(User).count() == 0


def qbo_token(sandbox) -> str:
    from connectors.quickbooks.emulator.testing import authorize

    return authorize(sandbox).access_token


def test_eight_workers_with_an_expired_token_refresh_once(live_app, qbo, db, redis_conn) -> None:
    """The rotated refresh token is used once: the other seven workers wait and reuse the new tokens."""
    import threading
    from datetime import UTC, datetime, timedelta

    from addon.models import Connection
    from addon.services.connections import connector_for

    _install(live_app, requests.Session())
    tenant = db.query(Tenant).one()
    conn = db.query(Connection).one()
    conn.expires_at = datetime.now(UTC) - timedelta(minutes=1)  # as if an hour had passed
    db.commit()
    qbo.state.oauth.expire_access_tokens()
    refreshes_before = sum(1 for t in qbo.state.oauth.refresh.values() if t.retired)
    invoice_id = next(iter(i["Id"] for i in qbo.store.all("Invoice")))
    engine = live_app.app.extensions["cashline_db"].engine
    barrier, errors, results = threading.Barrier(8), [], []

    def worker() -> None:
        connector = connector_for(tenant, engine=engine, redis=redis_conn, config=live_app.app.config)
        barrier.wait()
        try:
            results.append(connector.get_invoice(invoice_id).remote_id)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []  # in particular no invalid_grant
    assert results == [invoice_id] * 8
    assert sum(1 for t in qbo.state.oauth.refresh.values() if t.retired) - refreshes_before == 1


def test_an_id_token_without_the_nonce_we_sent_is_refused(live_app, qbo, db, monkeypatch) -> None:
    """OpenID Connect Core 3.1.3.7: when a nonce was sent, the id_token must carry it (no nonce = replay risk)."""
    real_sign = qbo.state.oauth.id_tokens.sign
    monkeypatch.setattr(qbo.state.oauth.id_tokens, "sign", lambda **kw: real_sign(**{**kw, "nonce": None}))
    landed = _install(live_app, requests.Session())
    assert landed.status_code == 400
    assert "nonce" in landed.text
    assert db.query(Tenant).count() == 0



def test_a_realm_id_edited_on_the_redirect_cannot_take_over_another_company(live_app, qbo, db, make_tenant) -> None:
    """realmId arrives in the browser's URL: a user who consents for their own company and swaps in the
    victim's realmId must not overwrite the victim's tokens nor become an admin of the victim's tenant."""
    from urllib.parse import parse_qsl, urlencode, urlsplit

    from addon.models import Connection
    from connectors.sandbox.consent import read_consent_form

    victim = make_tenant(platform="qbo", remote_id="9130000000000666", name="Victim Co")
    db.commit()
    browser = requests.Session()
    consent = browser.get(f"{live_app.url}/connect/qbo", timeout=30)
    form = read_consent_form(consent.text)
    back = browser.post(requests.compat.urljoin(consent.url, form.action),
                        data={**form.fields, "decision": "allow"}, allow_redirects=False, timeout=30)
    location = urlsplit(back.headers["Location"])
    params = {**dict(parse_qsl(location.query)), "realmId": victim.remote_id}
    landed = browser.get(f"{live_app.url}{location.path}?{urlencode(params)}", timeout=30)
    assert landed.status_code == 400
    db.expire_all()
    assert db.query(Membership).filter_by(tenant_id=victim.id).count() == 0
    assert db.query(Connection).filter_by(tenant_id=victim.id).count() == 0



def test_the_disconnect_url_does_not_disconnect_for_a_stranger(live_app, qbo, db) -> None:
    """The Disconnect URL is a plain GET anyone can send: it must not cut off a company on an unauthenticated
    request (or on behalf of a user who is not a member of that tenant)."""
    _install(live_app, requests.Session())
    tenant = db.query(Tenant).one()
    stranger = requests.Session()
    page = stranger.get(f"{live_app.url}/disconnect/qbo", params={"realmId": qbo.realm_id}, timeout=10)
    assert page.status_code == 200
    db.expire_all()
    assert db.get(Tenant, tenant.id).status is TenantStatus.CONNECTED


def _disconnect_inside_quickbooks(live_app, qbo, db, tenant_id: int) -> None:
    """What Intuit does when the user disconnects the app in QuickBooks: the grant is revoked."""
    from addon.models import Connection
    from addon.security import TokenCipher
    from connectors.quickbooks import auth as qbo_auth

    conn = db.query(Connection).filter_by(tenant_id=tenant_id).one()
    refresh_token = TokenCipher(live_app.app.config["TOKEN_ENCRYPTION_KEY"]).decrypt(conn.refresh_token_enc)
    qbo_auth.revoke(qbo.config(), refresh_token)
    db.rollback()


def test_the_disconnect_url_for_the_tenant_admin_disconnects_and_deletes_the_tokens(live_app, qbo, db) -> None:
    from addon.models import Connection

    browser = requests.Session()
    _install(live_app, browser)
    tenant = db.query(Tenant).one()
    _disconnect_inside_quickbooks(live_app, qbo, db, tenant.id)
    page = browser.get(f"{live_app.url}/disconnect/qbo", params={"realmId": qbo.realm_id}, timeout=10)
    assert page.status_code == 200
    assert tenant.name in page.text
    db.expire_all()
    assert db.get(Tenant, tenant.id).status is TenantStatus.DISCONNECTED
    assert db.query(Connection).count() == 0  # Intuit revoked them; we keep no dead tokens either


def test_a_crafted_disconnect_link_with_the_grant_still_valid_only_offers_a_button(live_app, qbo, db) -> None:
    """A link clicked by the signed-in admin (SameSite=Lax lets a top-level GET through) while the app is
    still connected in QuickBooks: Intuit still honours the grant, so nothing changes until the admin
    presses the CSRF-protected "Disconnect Cashline" button."""
    from addon.models import AuditLog, Connection

    browser = requests.Session()
    _install(live_app, browser)
    tenant = db.query(Tenant).one()
    page = browser.get(f"{live_app.url}/disconnect/qbo", params={"realmId": qbo.realm_id}, timeout=10)
    assert page.status_code == 200
    assert "still connected" in page.text
    assert "Disconnect Cashline" in page.text
    db.expire_all()
    assert db.get(Tenant, tenant.id).status is TenantStatus.CONNECTED
    assert db.query(Connection).count() == 1
    assert db.query(AuditLog).filter(AuditLog.action.like("tenant.disconnected%")).count() == 0
    # The check refreshed the tokens: the rotated set was stored, and the connector still works with it.
    from addon.extensions import get_db, get_redis
    from addon.services.connections import connector_for

    with live_app.app.app_context():
        connector = connector_for(db.get(Tenant, tenant.id), engine=get_db().engine, redis=get_redis(),
                                  config=live_app.app.config)
        connector.get_invoice(qbo.store.all("Invoice")[0]["Id"])

    refused = browser.post(f"{live_app.url}/tenants/{tenant.id}/disconnect", data={}, timeout=10)
    assert refused.status_code == 400  # no CSRF token: a cross-site form cannot press the button
    db.expire_all()
    assert db.get(Tenant, tenant.id).status is TenantStatus.CONNECTED

    done = browser.post(f"{live_app.url}/tenants/{tenant.id}/disconnect", data={"csrf_token": csrf_token(page)},
                        timeout=10)
    assert done.status_code == 200
    db.expire_all()
    assert db.get(Tenant, tenant.id).status is TenantStatus.DISCONNECTED
    assert db.query(Connection).count() == 0


def test_when_intuit_cannot_be_asked_the_disconnect_url_changes_nothing(live_app, qbo, db, monkeypatch) -> None:
    from tests.mail.conftest import free_port

    browser = requests.Session()
    _install(live_app, browser)
    tenant = db.query(Tenant).one()
    monkeypatch.setitem(live_app.app.config, "QBO_DISCOVERY_URL", f"http://127.0.0.1:{free_port()}/discovery")
    page = browser.get(f"{live_app.url}/disconnect/qbo", params={"realmId": qbo.realm_id}, timeout=30)
    assert page.status_code == 200
    assert "could not confirm" in page.text
    assert "Disconnect Cashline" in page.text
    db.expire_all()
    assert db.get(Tenant, tenant.id).status is TenantStatus.CONNECTED
