"""`cashline demo`: the main job. Builds a sandbox world and serves the dashboard on localhost.

Each capability adds its step to ``STEPS`` (see addon/demo/); progress is printed as it runs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

DEMO_REDIS_URL = "redis://127.0.0.1:6379/15"  # the demo's own db: emptied at the start of every run


@click.command("demo")
@click.option("--port", default=5000, show_default=True, help="Port for the Cashline web app.")
@click.option("--no-serve", is_flag=True, help="Run the steps and exit instead of serving.")
@click.option("--size", type=click.Choice(["small", "normal"]), default="normal", show_default=True)
@with_appcontext
def demo(port: int, no_serve: bool, size: str) -> None:
    """Run the end-to-end demo: emulated Xero + QBO companies, install, sync, score, dun, reconcile."""
    from addon.demo import run_demo

    app = _fresh_demo_app(current_app._get_current_object())  # type: ignore[attr-defined]
    if "LOG_LEVEL" not in os.environ:
        # The app's JSON log (every request of the emulators and the app at INFO) would drown the
        # progress lines; warnings still show. LOG_LEVEL=INFO make demo brings the full log back.
        for name in ("", "werkzeug"):
            logging.getLogger(name).setLevel(logging.WARNING)
    run_demo(app, port=port, serve=not no_serve, echo=click.echo, size=size)


def _fresh_demo_app(app: Flask) -> Flask:
    """The app on the demo's own SQLite database and Redis db, both emptied on every run.

    The emulated companies are generated anew each time, so a mirror, scores, dunning history or queued
    jobs left by an earlier run (one stopped with Ctrl+C, or of another --size) would describe a ledger
    that no longer exists. An explicit DATABASE_URL or REDIS_URL is used as given instead, and never wiped.
    """
    from redis import Redis

    from addon import create_app

    overrides: dict[str, str] = {}
    if "DATABASE_URL" not in os.environ:
        path = Path(app.instance_path) / "demo.sqlite3"
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        overrides["DATABASE_URL"] = f"sqlite:///{path}"
    if "REDIS_URL" not in os.environ:
        Redis.from_url(DEMO_REDIS_URL).flushdb()
        overrides["REDIS_URL"] = DEMO_REDIS_URL
    return create_app(overrides) if overrides else app


def register(cli: click.Group) -> None:
    cli.add_command(demo)
