"""`cashline match ...` commands."""

from __future__ import annotations

import click


@click.group(name="match")
def group() -> None:
    """match commands."""


def register(cli: click.Group) -> None:
    cli.add_command(group)
