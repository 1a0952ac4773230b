"""Fixtures shared by the job tests. The dunning jobs' fixture uses the dunning tests' ``ledger`` and
``smtp_server``, which each test module imports."""

from __future__ import annotations

import pytest
import time_machine

from jobs.runtime import set_app
from tests.addon.dunning.conftest import JOB_NOW


@pytest.fixture
def job_env(app, ledger, smtp_server, redis_conn):  # type: ignore[no-untyped-def]
    """The dunning job's world: the app set for jobs, mail to the test SMTP server, the clock at
    ``JOB_NOW`` (ten days after the ledger's due date); yields the ledger and the mailbox."""
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_STARTTLS=False,
                      MAIL_FROM="Cashline <no-reply@cashline.test>")
    set_app(app)
    with time_machine.travel(JOB_NOW, tick=False):
        yield ledger, smtp_server.sink
