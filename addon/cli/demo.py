"""`cashline demo`: the main job. Builds a sandbox world and serves the dashboard on localhost.

Each capability adds its step to ``STEPS`` (see addon/demo/); progress is printed as it runs.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("demo")
@click.option("--port", default=5000, show_default=True, help="Port for the Cashline web app.")
@click.option("--no-serve", is_flag=True, help="Run the steps and exit instead of serving.")
@click.option("--size", type=click.Choice(["small", "normal"]), default="normal", show_default=True)
@with_appcontext
def demo(port: int, no_serve: bool, size: str) -> None:
    """Run the end-to-end demo: emulated Xero + QBO companies, install, sync, score, dun, reconcile."""
    from addon.demo import run_demo

    run_demo(current_app._get_current_object(), port=port, serve=not no_serve,  # type: ignore[attr-defined]
             echo=click.echo, size=size)


def register(cli: click.Group) -> None:
    cli.add_command(demo)
