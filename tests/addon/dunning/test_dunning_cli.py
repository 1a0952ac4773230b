"""`cashline dunning preview --json` and `cashline dunning run`."""

from __future__ import annotations

import json

from sqlalchemy import select

from addon.cli.dunning import group
from addon.models import DunningAction, DunningPolicy


def test_preview_json_prints_planned_actions_without_sending(app, db, ledger, smtp_server) -> None:
    result = app.test_cli_runner().invoke(group, ["preview", "--tenant", str(ledger.tenant.id),
                                                  "--date", "2026-11-09", "--json"])
    assert result.exit_code == 0, result.output
    actions = json.loads(result.output)
    assert [a["invoice_ids"] for a in actions] == [["I1"], ["I2"]]
    first = actions[0]
    assert (first["stage"], first["tone"], first["channel"]) == ("overdue_7", "firm", "email")
    assert first["send_at"] == "2026-11-09T09:00:00+00:00"
    assert "10 days overdue" in first["lines"][0]["reason"]
    assert first["reason"]
    assert smtp_server.sink.arrived == []
    db.expire_all()
    assert db.scalars(select(DunningAction)).all() == []
    assert db.scalars(select(DunningPolicy)).all() == []  # a preview writes nothing


def test_preview_table_and_unknown_tenant(app, ledger) -> None:
    runner = app.test_cli_runner()
    table = runner.invoke(group, ["preview", "--tenant", str(ledger.tenant.id), "--date", "2026-10-01"])
    assert table.exit_code == 0
    assert "No reminders planned for 2026-10-01." in table.output
    missing = runner.invoke(group, ["preview", "--tenant", "999999", "--json"])
    assert missing.exit_code != 0
    assert "no tenant with id 999999" in missing.output


def test_run_prints_the_summary(app, ledger, smtp_server, monkeypatch) -> None:
    from jobs.runtime import set_app

    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port)
    set_app(app)
    import time_machine

    with time_machine.travel("2026-11-09T10:00:00+00:00", tick=False):
        result = app.test_cli_runner().invoke(group, ["run", "--tenant", str(ledger.tenant.id)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sent"] == 2
    assert len(smtp_server.sink.arrived) == 2
