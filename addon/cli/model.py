"""`cashline model ...` commands."""

from __future__ import annotations

import click


@click.group(name="model")
def group() -> None:
    """model commands."""


def register(cli: click.Group) -> None:
    cli.add_command(group)
