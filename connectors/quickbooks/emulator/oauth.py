"""OAuth 2.0 / OpenID Connect endpoints: discovery document, consent page, token and revoke."""

from __future__ import annotations

import base64
import binascii
import json
from html import escape
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from connectors.quickbooks.emulator.oauth_state import ACCOUNTING_SCOPE, EMULATOR_USER, OAuthError, OAuthState

bp = Blueprint("qbo_oauth", __name__)

AUTHORIZE_PATH = "/connect/oauth2"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"  # noqa: S105 - a URL path, not a secret
REVOKE_PATH = "/oauth2/v1/tokens/revoke"
USERINFO_PATH = "/v1/openid_connect/userinfo"
JWKS_PATH = "/op/v1/jwks"
DISCOVERY_PATH = "/.well-known/openid_configuration"

_CONSENT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connect to QuickBooks (emulator)</title></head>
<body>
<h1>{company}</h1>
<p>The app <strong>{client_id}</strong> wants to connect to your QuickBooks company and use: {scope}.</p>
<form method="post" action="{action}">
<input type="hidden" name="client_id" value="{client_id}">
<input type="hidden" name="redirect_uri" value="{redirect_uri}">
<input type="hidden" name="scope" value="{scope}">
<input type="hidden" name="state" value="{state}">
<input type="hidden" name="nonce" value="{nonce}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</form>
</body></html>
"""


def _oauth() -> OAuthState:
    state: OAuthState = current_app.extensions["qbo"].oauth
    return state


@bp.errorhandler(OAuthError)
def _error(exc: OAuthError) -> Response:
    response = jsonify(error=exc.error, error_description=exc.description)
    response.status_code = exc.status
    return response


@bp.get(DISCOVERY_PATH)
@bp.get(DISCOVERY_PATH + "/")
def discovery() -> Response:
    base = request.host_url.rstrip("/")
    return jsonify({
        "issuer": base, "authorization_endpoint": base + AUTHORIZE_PATH, "token_endpoint": base + TOKEN_PATH,
        "userinfo_endpoint": base + USERINFO_PATH, "revocation_endpoint": base + REVOKE_PATH,
        "jwks_uri": base + JWKS_PATH, "response_types_supported": ["code"],
        "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "address", "phone", ACCOUNTING_SCOPE],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
    })


@bp.get(AUTHORIZE_PATH)
def consent_page() -> BaseResponse | tuple[str, int]:
    args = request.args
    try:
        _oauth().check_client_redirect(args.get("client_id", ""), args.get("redirect_uri", ""))
    except OAuthError as exc:
        return f"<h1>Error</h1><p>{escape(exc.description)}</p>", 400
    if args.get("response_type") != "code":
        return _redirect_error(args.get("redirect_uri", ""), "unsupported_response_type", args.get("state"))
    if ACCOUNTING_SCOPE not in args.get("scope", "").split():
        return _redirect_error(args.get("redirect_uri", ""), "invalid_scope", args.get("state"))
    store = current_app.extensions["qbo"].store
    html = _CONSENT.format(company=escape(store.company_name), client_id=escape(args["client_id"]),
                           redirect_uri=escape(args["redirect_uri"]), scope=escape(args.get("scope", "")),
                           state=escape(args.get("state", "")), nonce=escape(args.get("nonce", "")),
                           action=AUTHORIZE_PATH)
    return Response(html, mimetype="text/html")


@bp.post(AUTHORIZE_PATH)
def consent_submit() -> BaseResponse | tuple[str, int]:
    form = request.form
    redirect_uri = form.get("redirect_uri", "")
    try:
        _oauth().check_client_redirect(form.get("client_id", ""), redirect_uri)
    except OAuthError as exc:
        return f"<h1>Error</h1><p>{escape(exc.description)}</p>", 400
    if form.get("decision") != "allow":
        return _redirect_error(redirect_uri, "access_denied", form.get("state"))
    code = _oauth().issue_code(form["client_id"], redirect_uri, form.get("scope", ""), form.get("nonce"))
    params = {"code": code, "state": form.get("state", ""), "realmId": _oauth().realm_id}
    return redirect(_join(redirect_uri, params), code=302)


def _redirect_error(redirect_uri: str, error: str, state: str | None) -> BaseResponse:
    return redirect(_join(redirect_uri, {"error": error, "state": state or ""}), code=302)


def _join(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def _client_credentials() -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        return user, password
    return request.form.get("client_id"), request.form.get("client_secret")


@bp.post(TOKEN_PATH)
def token() -> Response:
    oauth = _oauth()
    oauth.authenticate(*_client_credentials())
    grant_type = request.form.get("grant_type")
    if grant_type == "authorization_code":
        body = oauth.exchange_code(request.form.get("code", ""), request.form.get("redirect_uri", ""),
                                   issuer=request.host_url.rstrip("/"))
    elif grant_type == "refresh_token":
        body = oauth.refresh_tokens(request.form.get("refresh_token", ""))
    else:
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post(REVOKE_PATH)
def revoke() -> Response:
    oauth = _oauth()
    oauth.authenticate(*_client_credentials())
    try:
        payload = json.loads(request.get_data() or b"{}") if request.is_json else dict(request.form)
    except ValueError:
        raise OAuthError("invalid_request", "body must be JSON") from None
    value = payload.get("token") if isinstance(payload, dict) else None
    if not value:
        raise OAuthError("invalid_request", "token is required")
    oauth.revoke(str(value))
    return Response(status=200)


@bp.get(USERINFO_PATH)
def userinfo() -> Response:
    value = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if _oauth().check_access(value) is None:
        return _error(OAuthError("invalid_token", "access token is invalid or expired", 401))
    return jsonify(sub=EMULATOR_USER["sub"], email=EMULATOR_USER["email"], emailVerified=True,
                   givenName="Sandbox", familyName="Owner")


@bp.get(JWKS_PATH)
def jwks() -> Response:
    return jsonify(_oauth().id_tokens.jwks())
