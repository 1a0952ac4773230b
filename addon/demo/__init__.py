"""The demo pipeline: an ordered list of steps, each printing its progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from addon import migrate

Echo = Callable[[str], None]


@dataclass
class DemoState:
    app: Flask
    port: int
    echo: Echo
    facts: dict[str, Any] = field(default_factory=dict)
    cleanups: list[Callable[[], None]] = field(default_factory=list)


def step_migrate(state: DemoState) -> None:
    migrate.upgrade(state.app.config["DATABASE_URL"])
    state.echo(f"    database ready at {state.app.config['DATABASE_URL']}")


STEPS: list[tuple[str, Callable[[DemoState], None]]] = [
    ("Migrate the database", step_migrate),
]


def run_demo(app: Flask, *, port: int, serve: bool, echo: Echo) -> DemoState:
    state = DemoState(app=app, port=port, echo=echo)
    for n, (title, step) in enumerate(STEPS, start=1):
        echo(f"[{n}/{len(STEPS)}] {title} ...")
        started = time.monotonic()
        step(state)
        echo(f"    done in {time.monotonic() - started:.1f}s")
    if serve:
        echo(f"\nCashline is running at http://127.0.0.1:{port}/  (health: /healthz, readiness: /readyz)")
        echo("Press Ctrl+C to stop.")
        try:
            app.run(host="127.0.0.1", port=port, use_reloader=False, threaded=True)
        finally:
            for cleanup in reversed(state.cleanups):
                cleanup()
    return state
