"""`cashline emulator ...` commands."""

from __future__ import annotations

import click


@click.group(name="emulator")
def group() -> None:
    """emulator commands."""


def register(cli: click.Group) -> None:
    cli.add_command(group)
