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
    assert state.facts["reconcile"]["again"]["imported"] == 0
    assert state.facts["reconcile"]["summary"]["posted"] > 0
    assert state.facts["reconcile"]["residuals"].get("fee") == 1  # the charges were booked to Bank Fees
    assert any("bank fee(s) as Spend Money" in line for line in lines)
