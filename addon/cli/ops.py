"""Operational commands: serve the app, run workers, database helpers."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    pass
