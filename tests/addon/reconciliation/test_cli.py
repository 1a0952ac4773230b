"""`cashline statement import FILE --tenant ID [--format] [--mapping]`."""

from __future__ import annotations

import json

from sqlalchemy import select

from addon.cli.statement import group
from addon.models import BankLine
from addon.queueing import get_queue
from tests.addon.reconciliation.statements import CSV_MAPPING, Entry, camt053, csv_statement


def test_import_command_imports_once_and_queues_matching(app, db, tenant, tmp_path, redis_conn) -> None:
    path = tmp_path / "nov.xml"
    path.write_bytes(camt053([Entry("1200.00", "Acme Trading Ltd", text="INV-1001"), Entry("-3.00", "Bank")]))
    runner = app.test_cli_runner()
    result = runner.invoke(group, ["import", str(path), "--tenant", str(tenant.id)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["format"], summary["imported"], summary["ignored"], summary["queued"]) == ("camt", 2, 1, True)
    [job] = get_queue("reconcile", redis_conn).jobs
    assert job.args == [tenant.id, summary["statement_id"]]

    again = json.loads(runner.invoke(group, ["import", str(path), "--tenant", str(tenant.id)]).output)
    assert (again["duplicate_file"], again["imported"]) == (True, 0)
    db.expire_all()
    assert len(db.scalars(select(BankLine)).all()) == 2


def test_import_command_csv_with_mapping_file_and_errors(app, db, tenant, tmp_path, redis_conn) -> None:
    mapping = tmp_path / "bank.json"
    mapping.write_text(CSV_MAPPING)
    data = tmp_path / "export.csv"
    data.write_bytes(csv_statement([("2026-11-10", "300.00", "Acme Trading Ltd", "", "INV-1002")]))
    runner = app.test_cli_runner()
    ok = runner.invoke(group, ["import", str(data), "--tenant", str(tenant.id), "--format", "csv",
                               "--mapping", str(mapping)])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["imported"] == 1

    broken = tmp_path / "broken.xml"
    broken.write_bytes(camt053([Entry("12x.00", "Acme")]))
    bad = runner.invoke(group, ["import", str(broken), "--tenant", str(tenant.id)])
    assert bad.exit_code == 1
    assert "camt statement rejected at /Document" in bad.output
    missing = runner.invoke(group, ["import", str(broken), "--tenant", "999999"])
    assert missing.exit_code != 0
    assert "no tenant with id 999999" in missing.output
    unknown = runner.invoke(group, ["import", str(data), "--tenant", str(tenant.id), "--mapping", "nope"])
    assert unknown.exit_code == 2
    assert "unknown CSV mapping" in unknown.output
    db.expire_all()
    assert len(db.scalars(select(BankLine)).all()) == 1
