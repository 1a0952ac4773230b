"""Web-app hardening: session cookie flags and where ``next=`` may send the user after sign-in."""

from __future__ import annotations

import pytest

from addon.web.auth import safe_next


def _cookie_app(app_config, public_url: str):  # type: ignore[no-untyped-def]
    from flask import session

    from addon import create_app

    app = create_app({**app_config, "PUBLIC_URL": public_url})

    @app.get("/_set_session")
    def _set() -> str:
        session["user_id"] = 1
        return "ok"

    return app


def test_session_cookie_is_secure_and_samesite_lax_when_served_over_https(app_config) -> None:
    app = _cookie_app(app_config, "https://cashline.example")
    cookie = app.test_client().get("/_set_session", base_url="https://cashline.example").headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    app.extensions["cashline_db"].dispose()


def test_session_cookie_is_not_secure_on_plain_http_development(app_config) -> None:
    app = _cookie_app(app_config, "http://127.0.0.1:5000")
    cookie = app.test_client().get("/_set_session").headers["Set-Cookie"]
    assert "Secure" not in cookie  # a browser would drop it on http://127.0.0.1 and sign-in would loop
    assert "SameSite=Lax" in cookie
    app.extensions["cashline_db"].dispose()


@pytest.mark.parametrize("target", ["/tenants/1", "/launch/qbo?realmId=1", "/"])
def test_local_paths_are_kept(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "/\\/evil.example", "\\\\evil.example",
                                    "https://evil.example/", "javascript:alert(1)", "/\t/evil.example",
                                    "/ /evil.example", "", None])
def test_other_hosts_and_odd_paths_are_refused(target: str | None) -> None:
    assert safe_next(target) is None
