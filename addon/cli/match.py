"""`cashline match ...` commands: run the matching engine on external data, no database needed."""

from __future__ import annotations

import json
from pathlib import Path

import click

from addon.domain.matching import MatchingIndex, match_line
from addon.domain.matching.external import ExternalDataError, read_invoices, read_lines, result_to_json


@click.group(name="match")
def group() -> None:
    """Match bank lines to open invoices."""


@group.command("evaluate")
@click.option("--invoices", "invoices_path", required=True, type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="CSV: invoice_id, number, customer_id, customer_name, currency, "
              "amount_due, issue_date, due_date")
@click.option("--lines", "lines_path", required=True, type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="CSV: line_id, date, amount, currency, counterparty, "
              "counterparty_account, reference, text")
@click.option("--json/--table", "as_json", default=True, show_default=True,
              help="JSON array (the contract other tools read) or a short table for people.")
def evaluate(invoices_path: Path, lines_path: Path, as_json: bool) -> None:
    """Run the engine on INV.csv + LINES.csv and print one verdict per line."""
    try:
        with invoices_path.open(newline="", encoding="utf-8-sig") as fh:
            invoices = read_invoices(fh, invoices_path.name)
        with lines_path.open(newline="", encoding="utf-8-sig") as fh:
            lines = read_lines(fh, lines_path.name)
    except ExternalDataError as exc:
        raise click.ClickException(str(exc)) from exc
    index = MatchingIndex.build(invoices)
    results = [(line_id, match_line(line, index)) for line_id, line in lines]
    if as_json:
        click.echo(json.dumps([result_to_json(line_id, r) for line_id, r in results], indent=2))
        return
    for line_id, r in results:
        target = ", ".join(f"{a.invoice_id}={a.amount}" for a in (r.allocations or (
            r.suggestions[0].allocations if r.suggestions else ())))
        click.echo(f"{line_id:<12} {r.decision.value:<8} {r.confidence:5.2f}  {target or '-'}"
                   f"{'  [' + r.residual.value + ']' if r.residual else ''}")


def register(cli: click.Group) -> None:
    cli.add_command(group)
