"""The README's main job: `cashline demo` runs every step end to end (small world, no serving)."""

from __future__ import annotations

import pytest

from addon.models import AuditLog, Invoice, RiskScore, Tenant


@pytest.mark.slow
def test_demo_runs_every_step(app, db, redis_conn) -> None:
    from addon.demo import STEPS, run_demo
    from addon.demo.world import free_port

    lines: list[str] = []
    saved = dict(app.config)  # the demo points the app at its emulators; give the next tests theirs back
    try:
        state = run_demo(app, port=free_port(5099), serve=False, echo=lines.append, size="small")
    finally:
        app.config.clear()
        app.config.update(saved)
    assert sum(1 for line in lines if line.startswith("[")) == len(STEPS)
    assert any("Demo ready" in line for line in lines)
    db.expire_all()
    assert {t.platform for t in db.query(Tenant)} == {"xero", "qbo"}
    assert db.query(Invoice).count() > 200
    assert db.query(RiskScore).count() > 0
    written = {t for (t,) in db.query(AuditLog.tenant_id).filter_by(action="risk.written_back")}
    assert written == {t.id for t in db.query(Tenant)}  # risk tags went back into both ERPs
    assert state.facts["emails"] > 0
    assert state.facts["collect"]["promise"]["promised_on"] is not None  # recorded through the worklist API
    assert state.facts["collect"]["dispute"]["disputed"] is True
    assert state.facts["collect"]["hold"]["hold"]["reason"] == "payment plan agreed"  # a third customer held
    assert any("dunning now stops (disputed)" in line for line in lines)
    assert state.facts["reconcile"]["again"]["imported"] == 0
    assert state.facts["reconcile"]["summary"]["posted"] > 0
    assert state.facts["reconcile"]["residuals"].get("fee") == 1  # the charges were booked to Bank Fees
    assert any("bank fee(s) as Spend Money" in line for line in lines)
    # The next day's camt.053 returns a posted payment: flagged for a human, nothing posted or undone.
    assert state.facts["reconcile"]["return"]["reversals"] == 1
    assert state.facts["reconcile"]["return"]["posted"] == 0
    assert any("payment reversed by the bank after it was posted as payment" in line for line in lines)
    assert db.query(AuditLog).filter_by(action="payment.reversed").count() == 1


def test_each_demo_run_starts_from_an_empty_database_and_redis(tmp_path, redis_url, monkeypatch) -> None:
    """A demo stopped half-way (or run at another --size) must not leave the next run stale data or
    queued jobs that dedupe its own away; an explicit DATABASE_URL / REDIS_URL is never wiped."""
    import redis as redis_lib
    from flask import Flask

    from addon.cli import demo as demo_cli

    monkeypatch.setattr(demo_cli, "DEMO_REDIS_URL", redis_url)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    base = Flask("addon", instance_path=str(tmp_path))
    stale = tmp_path / "demo.sqlite3"
    stale.write_bytes(b"an earlier run's ledger")
    leftover = redis_lib.Redis.from_url(redis_url)
    leftover.set("rq:job:backfill-1", "an earlier run's job")

    app = demo_cli._fresh_demo_app(base)
    assert app.config["DATABASE_URL"] == f"sqlite:///{stale}"
    assert app.config["REDIS_URL"] == redis_url
    assert not stale.exists() or stale.read_bytes() != b"an earlier run's ledger"
    assert leftover.dbsize() == 0
    app.extensions["cashline_db"].dispose()

    monkeypatch.setenv("DATABASE_URL", "sqlite:///elsewhere.sqlite3")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    stale.write_bytes(b"kept")
    assert demo_cli._fresh_demo_app(base) is base  # given explicitly: used as is, nothing wiped
    assert stale.read_bytes() == b"kept"
