"""`cashline bench ...` commands."""

from __future__ import annotations

import click


@click.group(name="bench")
def group() -> None:
    """bench commands."""


def register(cli: click.Group) -> None:
    cli.add_command(group)
