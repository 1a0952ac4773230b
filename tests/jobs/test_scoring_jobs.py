"""The scoring job: which day it scores on."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine

from addon.services import scoring
from addon.services.dunning_policies import ensure_default_policy
from jobs import scoring as scoring_jobs
from jobs.runtime import set_app


@pytest.mark.parametrize(("zone", "now", "today"), [
    # 03:00 UTC on 2 November is still the evening of 1 November in California ...
    ("America/Los_Angeles", "2026-11-02T03:00:00+00:00", date(2026, 11, 1)),
    # ... and already the morning of 3 November in New Zealand at 22:00 UTC on the 2nd.
    ("Pacific/Auckland", "2026-11-02T22:00:00+00:00", date(2026, 11, 3)),
])
def test_the_job_scores_on_the_tenants_today(app, db, make_tenant, redis_conn, monkeypatch, zone: str,
                                              now: str, today: date) -> None:
    """An invoice due on the tenant's today is not yet past due (P(late) would be 1 a day early)."""
    tenant = make_tenant()
    ensure_default_policy(db, tenant).options = {"timezone": zone}
    db.commit()
    seen: list[date] = []

    def fake_score(session, tenant, *, today, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(today)
        return scoring.ScoringSummary(0, 0, "v", "tenant")

    monkeypatch.setattr(scoring, "score_tenant", fake_score)
    monkeypatch.setattr(scoring_jobs, "connector_factory", lambda ctx: lambda tenant: None)
    set_app(app)
    with time_machine.travel(now, tick=False):
        scoring_jobs.score_tenant(tenant.id)
    assert seen == [today]
