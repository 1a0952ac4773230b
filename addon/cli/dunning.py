"""`cashline dunning ...` commands."""

from __future__ import annotations

import click


@click.group(name="dunning")
def group() -> None:
    """dunning commands."""


def register(cli: click.Group) -> None:
    cli.add_command(group)
