"""Connect (install), sign in, pick an organisation, launch, disconnect and reconnect."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select

from addon.extensions import get_db, get_redis
from addon.models import Membership, Role, Tenant, TenantStatus
from addon.security import TokenCipher
from addon.services import grants, install
from addon.services.connections import connector_config
from addon.web.session import current_user, membership, sign_in_user, tenant_view
from jobs.sync import request_backfill

logger = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

PLATFORMS = {"xero": "Xero", "qbo": "QuickBooks"}


def _redirect_uri(platform: str) -> str:
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/callback/{platform}"


def _cipher() -> TokenCipher:
    return TokenCipher(current_app.config["TOKEN_ENCRYPTION_KEY"])


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirect through ``next=``).

    Browsers read a backslash as a slash and drop tabs and newlines, so ``/\\evil.example`` and
    ``/<tab>/evil.example`` mean ``//evil.example``, another host: any of them, or a scheme or host, is refused.
    """
    if not target or not target.startswith("/") or "\\" in target:
        return None
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return None
    return target


@bp.get("/")
def home() -> Any:
    user = current_user()
    tenants: Sequence[Tenant] = []
    if user is not None:
        tenants = get_db().session.scalars(select(Tenant).join(Membership, Membership.tenant_id == Tenant.id)
                                           .where(Membership.user_id == user.id).order_by(Tenant.name)).all()
    return render_template("home.html", user=user, tenants=tenants, platforms=PLATFORMS)


@bp.get("/sign-in")
def sign_in() -> Any:
    return render_template("auth/sign_in.html", platforms=PLATFORMS, next=request.args.get("next", "/"))


@bp.get("/connect/<platform>")
def connect(platform: str) -> Any:
    """Start the OAuth authorization-code flow (also the Reconnect URL and 'Sign in with ...')."""
    if platform not in PLATFORMS:
        abort(404)
    try:
        url, pending = install.authorization_url(platform, current_app.config, _redirect_uri(platform))
    except install.InstallError as exc:
        return render_template("auth/error.html", message=str(exc)), 502
    session["oauth"] = {**pending, "next": request.args.get("next", "")}
    return redirect(url)


@bp.get("/callback/<platform>")
def callback(platform: str) -> Any:
    pending = session.pop("oauth", None)
    if platform not in PLATFORMS or not pending or pending.get("platform") != platform:
        return render_template("auth/error.html", message="This sign-in link has expired. Please start again."), 400
    if request.args.get("state") != pending["state"]:
        return render_template("auth/error.html", message="The sign-in response did not match (state)."), 400
    if "error" in request.args:
        return render_template("auth/error.html", message=f"Access was not granted: {request.args['error']}"), 400
    try:
        tokens, claims = install.exchange_code(platform, current_app.config, _redirect_uri(platform),
                                               request.args.get("code", ""), pending, install.utcnow())
        realm = install.qbo_realm(claims, request.args.get("realmId")) if platform == "qbo" else None
    except install.InstallError as exc:
        return render_template("auth/error.html", message=str(exc)), 400
    db = get_db().session
    user = install.sign_in(db, claims)
    sign_in_user(user)
    if realm is not None:
        tenant = install.install_tenant(db, platform="qbo", remote_id=realm, name=f"QuickBooks company {realm}",
                                        tokens=tokens, cipher=_cipher(), user=user)
        return _installed(tenant, pending.get("next"))
    return _xero_tenants(tokens, user, pending.get("next"))


def _xero_tenants(tokens, user, next_url: str | None) -> Any:  # type: ignore[no-untyped-def]
    from connectors.xero import auth as xero_auth

    creds = connector_config("xero", current_app.config)
    connections = [c for c in xero_auth.list_connections(creds, tokens.access_token)
                   if c.get("tenantType", "ORGANISATION") == "ORGANISATION"]
    if not connections:
        return render_template("auth/error.html", message="No Xero organisation was connected."), 400
    if len(connections) == 1:
        return _installed(_install_xero(connections[0], tokens, user), next_url)
    # Several organisations: keep the tokens server-side (encrypted, 10 minutes) while the user picks.
    get_redis().set(_pending_key(user), _cipher().encrypt(_serialise(tokens)), ex=600)
    session["pick"] = {"connections": connections, "next": next_url or ""}
    return redirect(url_for("auth.pick_organisation"))


@bp.route("/connect/xero/pick", methods=["GET", "POST"])
def pick_organisation() -> Any:
    from connectors.xero import auth as xero_auth

    user, pick = current_user(), session.get("pick")
    if user is None or not pick:
        return redirect(url_for("auth.sign_in"))
    if request.method == "GET":
        return render_template("auth/pick.html", connections=pick["connections"])
    chosen = request.form.get("connection_id")
    match = [c for c in pick["connections"] if c["id"] == chosen]
    blob = get_redis().get(_pending_key(user))
    if not match or blob is None:
        return render_template("auth/error.html", message="That choice has expired. Please connect again."), 400
    tokens = _deserialise(_cipher().decrypt(bytes(blob)))  # type: ignore[arg-type]
    creds = connector_config("xero", current_app.config)
    installed = _installed_xero_tenants([c["tenantId"] for c in pick["connections"]])
    for other in pick["connections"]:
        # One install = one tenant: release the organisations not chosen, except those an earlier
        # install uses (Xero lists every connection of the user, not only this consent's).
        if other["id"] != chosen and other["tenantId"] not in installed:
            xero_auth.disconnect_connection(creds, tokens.access_token, other["id"])
    session.pop("pick", None)
    get_redis().delete(_pending_key(user))
    return _installed(_install_xero(match[0], tokens, user), pick.get("next"))


def _installed_xero_tenants(remote_ids: list[str]) -> set[str]:
    """Which of these Xero organisations are installed here and not disconnected (their connection is live)."""
    return set(get_db().session.scalars(select(Tenant.remote_id).where(
        Tenant.platform == "xero", Tenant.remote_id.in_(remote_ids), Tenant.status != TenantStatus.DISCONNECTED)))


def _pending_key(user: Any) -> str:
    """Where a user's tokens wait (encrypted) while they pick one of several Xero organisations."""
    return f"cashline:pending-install:{user.id}"


def _install_xero(connection: dict[str, Any], tokens: Any, user: Any) -> Tenant:
    """Install the Xero organisation of one ``/connections`` entry (its connection id kept for disconnect)."""
    return install.install_tenant(get_db().session, platform="xero", remote_id=connection["tenantId"],
                                  name=connection.get("tenantName") or "Xero organisation", tokens=tokens,
                                  cipher=_cipher(), user=user, remote_connection_id=connection["id"])


def _installed(tenant: Tenant, next_url: str | None) -> Any:
    get_db().session.commit()
    try:
        request_backfill(tenant.id)
    except Exception as exc:  # noqa: BLE001 - the periodic sweep backfills it if Redis is down now
        logger.warning("could not enqueue backfill for tenant %s: %s", tenant.id, exc)
    flash(f"Connected to {tenant.name}. The first sync has started.")
    return redirect(safe_next(next_url) or url_for("auth.tenant_home", tenant_id=tenant.id))


def _serialise(tokens) -> str:  # type: ignore[no-untyped-def]
    import json

    return json.dumps({"a": tokens.access_token, "r": tokens.refresh_token, "e": tokens.expires_at.isoformat(),
                       "re": tokens.refresh_expires_at.isoformat() if tokens.refresh_expires_at else None,
                       "s": tokens.scope})


def _deserialise(text: str):  # type: ignore[no-untyped-def]
    import json
    from datetime import datetime

    from addon.domain.types import TokenSet

    d = json.loads(text)
    return TokenSet(access_token=d["a"], refresh_token=d["r"], expires_at=datetime.fromisoformat(d["e"]),
                    refresh_expires_at=datetime.fromisoformat(d["re"]) if d["re"] else None, scope=d["s"])


@bp.get("/launch/<platform>")
def launch(platform: str) -> Any:
    """The ERP's launch link (QBO Launch URL ?realmId=, Xero app launch ?tenantId=) -> tenant settings."""
    remote_id = request.args.get("realmId") or request.args.get("tenantId")
    if platform not in PLATFORMS or not remote_id:
        abort(404)
    tenant = get_db().session.scalar(select(Tenant).where(Tenant.platform == platform,
                                                          Tenant.remote_id == remote_id))
    user = current_user()
    if tenant is None or user is None:
        # Not installed yet, or not signed in here: the OAuth flow does both, then comes back.
        return redirect(url_for("auth.connect", platform=platform, next=request.full_path))
    return redirect(url_for("auth.tenant_home", tenant_id=tenant.id))


@bp.get("/disconnect/qbo")
def qbo_disconnect_url() -> Any:
    """Intuit's Disconnect URL: the user disconnected the app inside QuickBooks.

    Intuit sends the user's browser here with a bare ``?realmId=``: nothing proves who sent it, so the
    tenant is marked only for a signed-in admin of it. Anyone else gets the page and no change (were the
    company really disconnected, the next sync's refusal marks it ``needs_reauth`` anyway). Even for the
    admin a GET may be a crafted link (SameSite=Lax lets top-level GETs carry the cookie), so the tenant
    is marked only once Intuit confirms the grant is gone; otherwise the page offers the CSRF-protected
    POST disconnect instead.
    """
    realm, user = request.args.get("realmId"), current_user()
    tenant = get_db().session.scalar(select(Tenant).where(Tenant.platform == "qbo", Tenant.remote_id == realm)) \
        if realm and user is not None else None
    member = membership(user, tenant.id) if tenant is not None and user is not None else None
    if tenant is None or member is None or member.role is not Role.ADMIN:
        return render_template("auth/disconnected.html", tenant=None)
    state = install.qbo_grant_state(tenant, current_app.config, engine=get_db().engine,  # type: ignore[arg-type]
                                    redis=get_redis())
    if state != "revoked":
        return render_template("auth/disconnect_confirm.html", tenant=tenant, state=state)
    install.platform_disconnected(get_db().session, tenant, actor=f"platform:qbo user:{member.user_id}")
    return render_template("auth/disconnected.html", tenant=tenant)


@bp.get("/tenants/<int:tenant_id>")
@tenant_view()
def tenant_home(tenant: Tenant) -> Any:
    return render_template("tenants/home.html", tenant=tenant, platforms=PLATFORMS,
                           missing_scopes=grants.missing(tenant), purposes=grants.PURPOSES)


@bp.post("/tenants/<int:tenant_id>/disconnect")
@tenant_view(role=Role.ADMIN)
def disconnect(tenant: Tenant) -> Response:
    user = current_user()
    assert user is not None  # tenant_view guarantees a signed-in member
    install.disconnect_tenant(get_db().session, tenant, current_app.config, actor=f"user:{user.id}")
    flash(f"Disconnected {tenant.name}. Cashline no longer has access to it.")
    return redirect(url_for("auth.tenant_home", tenant_id=tenant.id))  # type: ignore[return-value]


@bp.post("/sign-out")
def sign_out() -> Response:
    session.clear()
    return redirect(url_for("auth.home"))  # type: ignore[return-value]
