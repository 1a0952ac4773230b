"""The dunning job: thin wrapper, fan-out, and exactly-once sending across a killed worker."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from addon.models import DunningAction
from addon.queueing import get_queue
from addon.services import dunning_send
from jobs import dunning as dunning_jobs
from jobs.cron import SCHEDULE
from tests.addon.dunning.conftest import DUE, JOB_NOW, at, ledger, platform  # noqa: F401 - fixtures
from tests.mail.conftest import smtp_server  # noqa: F401 - fixture

NOW = JOB_NOW


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: nothing after it runs, no except-Exception handler sees it."""


def _statuses(db) -> dict[str, str]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return {a.exactly_once_key: a.status for a in db.scalars(select(DunningAction))}


def test_run_tenant_sends_and_returns_a_summary(db, job_env) -> None:
    env, sink = job_env
    summary = dunning_jobs.run_tenant(env.tenant.id)
    assert summary["sent"] == 2
    assert summary["tenant_id"] == env.tenant.id
    assert sorted(m.rcpt_tos[0] for m in sink.arrived) == ["ap@acme.example", "ar@globex.example"]
    assert dunning_jobs.run_tenant(env.tenant.id).get("sent", 0) == 0


def test_worker_killed_between_claim_and_send_never_sends_that_stage(db, job_env, monkeypatch) -> None:
    env, sink = job_env
    tenant_id = env.tenant.id  # a killed job tears its session down: keep plain ids only
    real_compose = dunning_send.compose_reminder

    def killed(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise WorkerKilled

    monkeypatch.setattr(dunning_send, "compose_reminder", killed)
    with pytest.raises(WorkerKilled):
        dunning_jobs.run_tenant(tenant_id)
    assert sink.arrived == []
    assert list(_statuses(db).values()) == ["sending"]  # the claim was committed before sending

    monkeypatch.setattr(dunning_send, "compose_reminder", real_compose)
    rerun = dunning_jobs.run_tenant(tenant_id)
    assert rerun["sent"] == 1  # only the other customer; the claimed stage is not sent again
    assert len(sink.arrived) == 1
    assert sorted(_statuses(db).values()) == ["sending", "sent"]


def test_worker_killed_after_the_server_accepted_sends_nothing_twice(db, job_env, monkeypatch) -> None:
    env, sink = job_env
    tenant_id = env.tenant.id
    real_send = dunning_send.SmtpSender.send

    def send_then_die(self, message):  # type: ignore[no-untyped-def]
        real_send(self, message)
        raise WorkerKilled

    monkeypatch.setattr(dunning_send.SmtpSender, "send", send_then_die)
    with pytest.raises(WorkerKilled):
        dunning_jobs.run_tenant(tenant_id)
    assert len(sink.arrived) == 1
    first = sink.arrived[0].rcpt_tos

    monkeypatch.setattr(dunning_send.SmtpSender, "send", real_send)
    for _ in range(2):
        dunning_jobs.run_tenant(tenant_id)
    recipients = [m.rcpt_tos for m in sink.arrived]
    assert len(recipients) == 2
    assert recipients.count(first) == 1


def test_fan_out_enqueues_one_job_per_connected_tenant(db, job_env, redis_conn, make_tenant) -> None:
    from addon.models import TenantStatus

    make_tenant(status=TenantStatus.DISCONNECTED)
    db.commit()
    env, _ = job_env
    assert dunning_jobs.fan_out() == {"tenants": 1, "queued": 1}
    assert dunning_jobs.fan_out() == {"tenants": 1, "queued": 0}  # unique job id: not queued twice
    queue = get_queue("dunning", redis_conn)
    assert [(j.func_name, j.args) for j in queue.jobs] == [("jobs.dunning.run_tenant", [env.tenant.id])]
    assert any(p.func_path == "jobs.dunning.fan_out" for p in SCHEDULE)


def test_a_disconnected_tenant_is_skipped(db, job_env) -> None:
    from addon.models import Tenant, TenantStatus

    env, sink = job_env
    db.get(Tenant, env.tenant.id).status = TenantStatus.NEEDS_REAUTH
    db.commit()
    assert dunning_jobs.run_tenant(env.tenant.id) == {"skipped": 1}
    assert sink.arrived == []
