"""`cashline statement ...` commands.

``parse`` is pure: it reads a file, prints the normalised lines and never touches the database.
``import`` persists through the import service (deduplicated, all-or-nothing) and queues matching.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from addon.cli.common import tenant_by_id
from addon.domain.statements import (
    BUILTIN_MAPPINGS,
    FORMATS,
    CsvMapping,
    StatementError,
    line_to_dict,
    load_mapping,
    parse_statement,
)


@click.group(name="statement")
def group() -> None:
    """Bank statement files: parse (and, with the database, import)."""


@group.command("parse")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["auto", *FORMATS]), default="auto", show_default=True,
    help="Statement format; auto detects it from the content.",
)
@click.option(
    "--mapping", "mapping_arg", metavar="NAME_OR_JSON",
    help=f"CSV column mapping: a built-in name ({', '.join(sorted(BUILTIN_MAPPINGS))}), "
    "a JSON object, or a path to a JSON file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the lines as a JSON array.")
def parse_command(file: Path, fmt: str, mapping_arg: str | None, as_json: bool) -> None:
    """Parse FILE and print its normalised bank lines (no database involved)."""
    mapping = _mapping(mapping_arg)
    try:
        statement = parse_statement(file.read_bytes(), filename=file.name, format=fmt, csv_mapping=mapping)
    except StatementError as exc:
        raise click.ClickException(
            f"{exc.format} statement rejected at {exc.location}: {exc.reason}"
        ) from exc
    if as_json:
        click.echo(json.dumps([line_to_dict(line) for line in statement.lines], indent=2, ensure_ascii=False))
        return
    click.echo(
        f"{statement.format} statement, account {statement.account or '-'}, "
        f"{len(statement.lines)} lines, opening {statement.opening_balance}, "
        f"closing {statement.closing_balance}"
    )
    for line in statement.lines:
        who = line.counterparty_name or ""
        what = line.structured_reference or line.end_to_end_id or line.remittance_text or ""
        click.echo(f"{line.booking_date}  {line.amount:>14} {line.currency}  {who[:30]:30}  {what[:60]}")


def _mapping(arg: str | None) -> CsvMapping | None:
    if arg is None:
        return None
    try:
        path = Path(arg)
        if not arg.lstrip().startswith("{") and arg not in BUILTIN_MAPPINGS and path.is_file():
            return CsvMapping.from_json(path.read_text(encoding="utf-8"))
        return load_mapping(arg)
    except (ValueError, TypeError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="--mapping") from exc


@group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tenant", "tenant_id", required=True, type=int, help="Tenant id.")
@click.option(
    "--format", "fmt", type=click.Choice(["auto", *FORMATS]), default="auto", show_default=True,
    help="Statement format; auto detects it from the content.",
)
@click.option(
    "--mapping", "mapping_arg", metavar="NAME_OR_JSON",
    help="CSV column mapping: a mapping saved for the tenant, a built-in name, a JSON object, "
    "or a path to a JSON file.",
)
@with_appcontext
def import_command(file: Path, tenant_id: int, fmt: str, mapping_arg: str | None) -> None:
    """Import FILE into the tenant's bank lines (skipping what was imported before) and queue matching."""
    from redis.exceptions import RedisError

    from addon.extensions import get_db, get_redis
    from addon.services.reconciliation import import_statement
    from jobs.reconcile import enqueue_reconcile

    session = get_db().session
    tenant = tenant_by_id(tenant_id)
    mapping: CsvMapping | str | None = mapping_arg
    if mapping_arg is not None and not mapping_arg.lstrip().startswith("{") and Path(mapping_arg).is_file():
        mapping = _mapping(mapping_arg)
    try:
        summary = import_statement(session, tenant, file.read_bytes(), file.name, mapping,
                                   format=None if fmt == "auto" else fmt)
    except StatementError as exc:
        session.rollback()
        raise click.ClickException(f"{exc.format} statement rejected at {exc.location}: {exc.reason}") from exc
    except ValueError as exc:
        session.rollback()
        raise click.BadParameter(str(exc), param_hint="--mapping") from exc
    session.commit()
    if summary["statement_id"] is not None:
        try:
            enqueue_reconcile(get_redis(), tenant.id, summary["statement_id"])
            summary["queued"] = True
        except RedisError as exc:
            summary["queued"] = False
            click.echo(f"warning: matching not queued ({exc}); run the reconcile job later", err=True)
    click.echo(json.dumps(summary, indent=2))


def register(cli: click.Group) -> None:
    cli.add_command(group)
