"""`cashline emulator xero|qbo|twilio ...`: run a platform emulator (sandbox company, SMS) on a local port.

Each platform's command lives beside its emulator (connectors/<platform>/emulator/cli.py).
"""

from __future__ import annotations

import importlib

import click


@click.group(name="emulator")
def group() -> None:
    """Run a local, wire-faithful Xero, QuickBooks Online or Twilio (SMS) emulator."""


def register(cli: click.Group) -> None:
    for module in ("connectors.xero.emulator.cli", "connectors.quickbooks.emulator.cli",
                   "connectors.twilio.emulator.cli"):
        try:
            group.add_command(importlib.import_module(module).command)
        except ModuleNotFoundError as exc:
            if exc.name != module and not module.startswith(str(exc.name)):
                raise
    cli.add_command(group)
