"""Browser-test fixtures: the app under test served on loopback, and Debian's Chromium driven by Playwright
with a signed-in session."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from connectors.sandbox.server import RunningServer, serve_in_thread

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"Chromium not found at {CHROMIUM} (make browser installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " — CI=true requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def served(app) -> Iterator[RunningServer]:  # type: ignore[no-untyped-def]
    """The app under test (same database and config as ``app``) on a free loopback port."""
    _require_chromium()
    server = serve_in_thread(app)
    yield server
    server.stop()


@pytest.fixture
def browser(served: RunningServer) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _session_cookie(app, user_id: int) -> str:  # type: ignore[no-untyped-def]
    # No browser_sign_in fixture in tests/conftest.py yet (OpenID sign-in through the emulators): sign in
    # by minting the Flask session cookie the way the test client does and handing it to the browser.
    client = app.test_client()
    with client.session_transaction() as session:
        session["user_id"] = user_id
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    assert cookie is not None
    return str(cookie.value)


@pytest.fixture
def page_as(app, served: RunningServer, browser: Browser) -> Callable[[int], Page]:  # type: ignore[no-untyped-def]
    """``page_as(user_id)`` -> a new Chromium page signed in as that user (go to ``served.url + path``)."""

    def open_page(user_id: int) -> Page:
        context = browser.new_context()
        context.add_cookies([{"name": app.config.get("SESSION_COOKIE_NAME", "session"),
                              "value": _session_cookie(app, user_id), "url": served.url}])
        return context.new_page()

    return open_page


@pytest.fixture
def screenshot() -> Callable[[Page, str], None]:
    """``screenshot(page, "name.png")`` keeps a full-page screenshot in test-artifacts/."""

    def take(page: Page, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)

    return take
