"""The emulator's identity service and the connector's identity helpers, over real HTTP."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests

from connectors.errors import AuthError, NotFoundError
from connectors.xero import disconnect_connection, exchange_code, list_connections, revoke
from connectors.xero.auth import refresh
from connectors.xero.emulator.testing import XeroSandbox, authorize


def consent_url(sandbox: XeroSandbox, **overrides: str) -> str:
    params = {"response_type": "code", "client_id": sandbox.client_id, "redirect_uri": sandbox.redirect_uri,
              "scope": "offline_access accounting.transactions", "state": "xyz", **overrides}
    return f"{sandbox.url}/identity/connect/authorize?{urlencode(params)}"


def allow(sandbox: XeroSandbox) -> str:
    form = {"response_type": "code", "client_id": sandbox.client_id, "redirect_uri": sandbox.redirect_uri,
            "scope": "offline_access", "state": "xyz", "decision": "allow"}
    resp = requests.post(f"{sandbox.url}/identity/connect/authorize", data=form, allow_redirects=False, timeout=5)
    assert resp.status_code == 302
    return parse_qs(urlparse(resp.headers["Location"]).query)["code"][0]


def test_consent_page_is_a_form_with_an_allow_button(sandbox: XeroSandbox) -> None:
    page = requests.get(consent_url(sandbox), timeout=5)
    assert page.status_code == 200
    assert '<form method="post"' in page.text
    assert 'value="allow"' in page.text
    assert sandbox.store.name in page.text


@pytest.mark.parametrize("override", [{"client_id": "someone-else"}, {"redirect_uri": "https://evil.example/cb"}])
def test_consent_rejects_unknown_client_or_redirect(sandbox: XeroSandbox, override: dict[str, str]) -> None:
    resp = requests.get(consent_url(sandbox, **override), timeout=5, allow_redirects=False)
    assert resp.status_code == 400
    assert "Location" not in resp.headers


def test_deny_redirects_with_access_denied(sandbox: XeroSandbox) -> None:
    form = {"client_id": sandbox.client_id, "redirect_uri": sandbox.redirect_uri, "state": "s1", "decision": "deny"}
    resp = requests.post(f"{sandbox.url}/identity/connect/authorize", data=form, allow_redirects=False, timeout=5)
    assert parse_qs(urlparse(resp.headers["Location"]).query) == {"error": ["access_denied"], "state": ["s1"]}


def test_authorize_flow_and_connections(sandbox: XeroSandbox) -> None:
    tokens = authorize(sandbox)
    assert tokens.refresh_token
    assert (tokens.expires_at - tokens.refresh_expires_at).days < 0
    conns = list_connections(sandbox.config(), tokens.access_token)
    assert [(c["tenantId"], c["tenantType"], c["tenantName"]) for c in conns] == [
        (sandbox.tenant_id, "ORGANISATION", sandbox.store.name)]
    disconnect_connection(sandbox.config(), tokens.access_token, conns[0]["id"])
    assert list_connections(sandbox.config(), tokens.access_token) == []
    with pytest.raises(NotFoundError):
        disconnect_connection(sandbox.config(), tokens.access_token, conns[0]["id"])


def test_code_is_single_use_and_redirect_must_match(sandbox: XeroSandbox) -> None:
    code = allow(sandbox)
    with pytest.raises(AuthError, match="invalid_grant"):
        exchange_code(sandbox.config(), code, "http://127.0.0.1:9/other")
    code = allow(sandbox)
    exchange_code(sandbox.config(), code, sandbox.redirect_uri)
    with pytest.raises(AuthError, match="invalid_grant"):
        exchange_code(sandbox.config(), code, sandbox.redirect_uri)


def test_code_expires_after_five_minutes(sandbox: XeroSandbox) -> None:
    code = allow(sandbox)
    sandbox.store.clock.advance(301)
    with pytest.raises(AuthError, match="invalid_grant"):
        exchange_code(sandbox.config(), code, sandbox.redirect_uri)


def test_bad_client_secret_is_invalid_client(sandbox: XeroSandbox) -> None:
    code = allow(sandbox)
    config = sandbox.config()
    wrong = type(config)(config.client_id, "wrong", config.api_url, config.identity_url)
    with pytest.raises(AuthError, match="invalid_client"):
        exchange_code(wrong, code, sandbox.redirect_uri)


def test_refresh_rotates_with_thirty_minute_grace(sandbox: XeroSandbox) -> None:
    first = authorize(sandbox)
    second = refresh(sandbox.config(), first)
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    sandbox.store.clock.advance(29 * 60)
    refresh(sandbox.config(), first)  # the previous token is still honoured within the grace period
    sandbox.store.clock.advance(2 * 60)
    with pytest.raises(AuthError, match="invalid_grant"):
        refresh(sandbox.config(), first)
    refresh(sandbox.config(), second)


def test_unused_refresh_token_expires_after_sixty_days(sandbox: XeroSandbox) -> None:
    tokens = authorize(sandbox)
    sandbox.store.clock.advance(60 * 86400 + 1)
    with pytest.raises(AuthError, match="invalid_grant"):
        refresh(sandbox.config(), tokens)


def test_revocation_kills_refresh_token_and_connections(sandbox: XeroSandbox) -> None:
    tokens = authorize(sandbox)
    revoke(sandbox.config(), tokens.refresh_token)
    with pytest.raises(AuthError, match="invalid_grant"):
        refresh(sandbox.config(), tokens)
    with pytest.raises(AuthError):
        list_connections(sandbox.config(), tokens.access_token)


def test_token_response_has_only_sdk_known_keys(sandbox: XeroSandbox) -> None:
    code = allow(sandbox)
    resp = requests.post(f"{sandbox.url}/connect/token", auth=(sandbox.client_id, sandbox.client_secret),
                         data={"grant_type": "authorization_code", "code": code,
                               "redirect_uri": sandbox.redirect_uri}, timeout=5)
    body = resp.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "refresh_token", "scope"}
    assert body["expires_in"] == 1800
    assert body["token_type"] == "Bearer"


def test_openid_discovery_pkce_and_signed_id_token(sandbox: XeroSandbox) -> None:
    from authlib.common.security import generate_token
    from authlib.integrations.requests_client import OAuth2Session
    from joserfc import jwt
    from joserfc.jwk import KeySet

    doc = requests.get(f"{sandbox.url}/.well-known/openid-configuration", timeout=5).json()
    assert doc["issuer"] == sandbox.url
    assert "S256" in doc["code_challenge_methods_supported"]
    client = OAuth2Session(sandbox.client_id, sandbox.client_secret, redirect_uri=sandbox.redirect_uri,
                           scope="openid profile email offline_access", code_challenge_method="S256")
    verifier = generate_token(48)
    url, state = client.create_authorization_url(doc["authorization_endpoint"], nonce="n-123",
                                                 code_verifier=verifier)
    page = requests.get(url, timeout=5)
    assert 'name="code_challenge"' in page.text
    form = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', page.text))
    answer = requests.post(f"{sandbox.url}/identity/connect/authorize", data={**form, "decision": "allow"},
                           allow_redirects=False, timeout=5)
    callback = answer.headers["Location"]
    code = parse_qs(urlparse(callback).query)["code"][0]
    with pytest.raises(AuthError, match="invalid_grant"):  # PKCE: no verifier, no tokens
        exchange_code(sandbox.config(), code, sandbox.redirect_uri)
    answer = requests.post(f"{sandbox.url}/identity/connect/authorize", data={**form, "decision": "allow"},
                           allow_redirects=False, timeout=5)
    token = client.fetch_token(doc["token_endpoint"], authorization_response=answer.headers["Location"],
                               code_verifier=verifier)
    keys = KeySet.import_key_set(requests.get(doc["jwks_uri"], timeout=5).json())
    claims = jwt.decode(token["id_token"], keys, algorithms=["RS256"]).claims
    assert claims["iss"] == sandbox.url
    assert claims["aud"] == sandbox.client_id
    assert claims["nonce"] == "n-123"
    assert claims["email"] == "owner@sandbox.example"
    assert claims["sub"]
    assert state


def _refresh_body(sandbox: XeroSandbox, refresh_token: str) -> dict[str, str]:
    resp = requests.post(f"{sandbox.url}/connect/token", auth=(sandbox.client_id, sandbox.client_secret),
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token}, timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def test_refresh_of_an_openid_grant_returns_a_new_id_token(sandbox: XeroSandbox) -> None:
    from joserfc import jwt
    from joserfc.jwk import KeySet

    first = authorize(sandbox)  # the test app asks for openid profile email
    assert first.id_token
    body = _refresh_body(sandbox, first.refresh_token)
    # The keys of Xero's recorded refresh response (specs/xero/recorded/..._test_token_api_refresh_token.yaml).
    assert set(body) == {"id_token", "access_token", "expires_in", "token_type", "refresh_token", "scope"}
    keys = KeySet.import_key_set(requests.get(f"{sandbox.url}/.well-known/openid-configuration/jwks",
                                              timeout=5).json())
    original = jwt.decode(first.id_token, keys, algorithms=["RS256"]).claims
    renewed = jwt.decode(body["id_token"], keys, algorithms=["RS256"]).claims
    # OpenID Connect Core 12.2: same issuer, subject and audience; no nonce (none was sent with the refresh);
    # auth_time is still the original sign-in.
    for claim in ("iss", "sub", "aud", "auth_time", "email"):
        assert renewed[claim] == original[claim]
    assert "nonce" not in renewed
    assert refresh(sandbox.config(), first).id_token  # and the connector keeps it


def test_refresh_without_openid_has_no_id_token(sandbox: XeroSandbox) -> None:
    code = allow(sandbox)  # scope: offline_access only
    tokens = exchange_code(sandbox.config(), code, sandbox.redirect_uri)
    body = _refresh_body(sandbox, tokens.refresh_token)
    assert set(body) == {"access_token", "expires_in", "token_type", "refresh_token", "scope"}
