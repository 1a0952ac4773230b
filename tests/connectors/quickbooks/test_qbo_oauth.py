"""OAuth against the emulator through intuit-oauth: discovery, consent form, code, rotation, revoke."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from addon.domain.types import TokenSet
from connectors.errors import AuthError
from connectors.quickbooks import exchange_code, revoke
from connectors.quickbooks.auth import make_auth_client, refresh
from connectors.quickbooks.emulator.testing import QboSandbox, authorize


def consent_url(sandbox: QboSandbox, **overrides: str) -> str:
    params = {"client_id": sandbox.client_id, "response_type": "code", "state": "xyz",
              "scope": "com.intuit.quickbooks.accounting", "redirect_uri": sandbox.redirect_uri, **overrides}
    return f"{sandbox.url}/connect/oauth2?{urlencode(params)}"


def test_discovery_document_drives_intuit_oauth(sandbox: QboSandbox) -> None:
    client = make_auth_client(sandbox.config())
    assert client.auth_endpoint == f"{sandbox.url}/connect/oauth2"
    assert client.token_endpoint == f"{sandbox.url}/oauth2/v1/tokens/bearer"
    assert client.revoke_endpoint == f"{sandbox.url}/oauth2/v1/tokens/revoke"
    assert client.issuer_uri == sandbox.url


def test_authorize_runs_the_code_flow_and_returns_intuit_lifetimes(sandbox: QboSandbox) -> None:
    before = datetime.now(UTC)
    tokens = authorize(sandbox)
    assert tokens.access_token
    assert tokens.refresh_token
    assert timedelta(seconds=3500) < tokens.expires_at - before <= timedelta(seconds=3601)
    assert tokens.refresh_expires_at is not None
    assert timedelta(days=99) < tokens.refresh_expires_at - before <= timedelta(days=100, seconds=1)


def test_consent_page_is_a_form_whose_allow_button_posts_and_redirects(sandbox: QboSandbox) -> None:
    page = requests.get(consent_url(sandbox), timeout=10)
    assert page.status_code == 200
    assert 'method="post"' in page.text
    assert '<button type="submit" name="decision" value="allow">Allow</button>' in page.text
    answer = requests.post(f"{sandbox.url}/connect/oauth2", allow_redirects=False, timeout=10, data={
        "client_id": sandbox.client_id, "redirect_uri": sandbox.redirect_uri, "state": "xyz",
        "scope": "com.intuit.quickbooks.accounting", "decision": "allow"})
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == sandbox.redirect_uri
    params = parse_qs(location.query)
    assert params["state"] == ["xyz"]
    assert params["realmId"] == [sandbox.realm_id]
    assert params["code"][0]


def test_cancel_redirects_with_access_denied(sandbox: QboSandbox) -> None:
    answer = requests.post(f"{sandbox.url}/connect/oauth2", allow_redirects=False, timeout=10, data={
        "client_id": sandbox.client_id, "redirect_uri": sandbox.redirect_uri, "state": "s1", "decision": "deny"})
    assert parse_qs(urlsplit(answer.headers["Location"]).query) == {"error": ["access_denied"], "state": ["s1"]}


@pytest.mark.parametrize("override", [{"redirect_uri": "https://evil.example/cb"}, {"client_id": "nope"}])
def test_consent_refuses_unknown_clients_and_redirects(sandbox: QboSandbox, override: dict[str, str]) -> None:
    assert requests.get(consent_url(sandbox, **override), timeout=10).status_code == 400


def test_an_authorization_code_works_once(sandbox: QboSandbox) -> None:
    answer = requests.post(f"{sandbox.url}/connect/oauth2", allow_redirects=False, timeout=10, data={
        "client_id": sandbox.client_id, "redirect_uri": sandbox.redirect_uri, "decision": "allow",
        "scope": "com.intuit.quickbooks.accounting"})
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    exchange_code(sandbox.config(), code, sandbox.redirect_uri, sandbox.realm_id)
    with pytest.raises(AuthError) as info:
        exchange_code(sandbox.config(), code, sandbox.redirect_uri, sandbox.realm_id)
    assert info.value.status == 400
    assert "invalid_grant" in (info.value.body or "")


def test_refresh_rotates_and_retires_the_old_refresh_token(sandbox: QboSandbox, tokens: TokenSet) -> None:
    client = make_auth_client(sandbox.config())
    fresh = refresh(client, tokens)
    assert fresh.refresh_token != tokens.refresh_token
    assert fresh.access_token != tokens.access_token
    with pytest.raises(AuthError, match="invalid_grant"):
        refresh(client, tokens)  # the rotated-away token is dead: whoever lost the new one must reconnect
    assert refresh(client, fresh).refresh_token not in (fresh.refresh_token, tokens.refresh_token)


def test_wrong_client_secret_is_rejected(sandbox: QboSandbox, tokens: TokenSet) -> None:
    bad = dataclasses.replace(sandbox.config(), client_secret="wrong")
    with pytest.raises(AuthError) as info:
        refresh(make_auth_client(bad), tokens)
    assert info.value.status == 401


def test_revoke_disconnects_every_token_of_the_consent(sandbox: QboSandbox, tokens: TokenSet) -> None:
    api = f"{sandbox.url}/v3/company/{sandbox.realm_id}/customer/1"
    headers = {"Authorization": f"Bearer {tokens.access_token}", "Accept": "application/json"}
    assert requests.get(api, headers=headers, timeout=10).status_code == 200
    revoke(sandbox.config(), tokens.refresh_token)
    denied = requests.get(api, headers=headers, timeout=10)
    assert denied.status_code == 401
    assert denied.json()["Fault"]["type"] == "AuthenticationFault"
    with pytest.raises(AuthError):
        refresh(make_auth_client(sandbox.config()), tokens)
