"""End-to-end fixtures: the Cashline app served on loopback, wired to a platform emulator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from addon.demo.world import submit_consent  # noqa: F401 - re-exported for the e2e tests
from addon.queueing import run_burst
from connectors.sandbox.server import RunningServer, serve_in_thread
from jobs.runtime import set_app


@dataclass
class LiveApp:
    app: Any
    server: RunningServer

    @property
    def url(self) -> str:
        return self.server.url

    def work(self, redis_conn: Any, queues: tuple[str, ...] = ("default", "sync")) -> None:
        """Run the jobs queued on ``queues`` to completion in this process (an RQ burst worker)."""
        set_app(self.app)
        run_burst(redis_conn, queues)


@pytest.fixture
def live_app(app, app_config, redis_conn) -> Iterator[LiveApp]:
    """A second app instance (same database as ``app``, which cleans up) served on a free port."""
    from addon import create_app

    served = create_app({**app_config, "WTF_CSRF_ENABLED": True, "TESTING": False})
    server = serve_in_thread(served)
    served.config["PUBLIC_URL"] = server.url
    yield LiveApp(served, server)
    server.stop()
    served.extensions["cashline_db"].dispose()


def csrf_token(page: requests.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "no CSRF token on the page"
    return match.group(1)
