"""The ``cashline`` command: a Flask CLI group with one sub-group per capability.

Each capability keeps its commands in its own module here so they can grow independently. Commands
that need the database use ``with_appcontext``; pure ones (evaluate, parse, emulators) do not.
"""

from __future__ import annotations

from flask.cli import FlaskGroup


def _create_app():  # type: ignore[no-untyped-def]
    from addon import create_app

    return create_app()


def build_cli() -> FlaskGroup:
    from addon.cli import bench, demo, dunning, emulator, match, model, model_tenant, ops, statement, webhooks

    cli = FlaskGroup(create_app=_create_app, add_default_commands=True,
                     help="Cashline: accounts-receivable automation for Xero and QuickBooks Online.")
    for module in (ops, demo, emulator, model, model_tenant, statement, match, dunning, bench, webhooks):
        module.register(cli)
    return cli


def main() -> None:
    build_cli().main(prog_name="cashline")
