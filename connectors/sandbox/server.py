"""Run a WSGI app (an emulator, or Cashline itself) on a loopback port in a background thread.

Used by tests, the demo and sandbox mode. The server is threaded so concurrent clients behave as they
would against the real service (needed to exercise concurrency limits).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server


@dataclass
class RunningServer:
    server: BaseWSGIServer
    thread: threading.Thread
    app: Any = field(repr=False)

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(app: Any, port: int = 0, host: str = "127.0.0.1", poll_interval: float = 0.05) -> RunningServer:
    """Start ``app`` on ``host:port`` (0 picks a free port) and return once it accepts connections.

    A short ``poll_interval`` makes ``stop()`` take milliseconds (tests start and stop servers often).
    """
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": poll_interval},
                              name=f"wsgi-{server.server_port}", daemon=True)
    thread.start()
    return RunningServer(server=server, thread=thread, app=app)
