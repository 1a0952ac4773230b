"""`cashline statement ...` commands."""

from __future__ import annotations

import click


@click.group(name="statement")
def group() -> None:
    """statement commands."""


def register(cli: click.Group) -> None:
    cli.add_command(group)
