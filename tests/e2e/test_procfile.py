"""The Procfile's web command serves the app: health, a signed webhook stored and dispatched."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from addon.models import WebhookEvent, WebhookStatus
from addon.queueing import get_queue
from connectors.xero.webhooks import signature

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
KEY = "procfile-webhook-key"


def _procfile() -> dict[str, str]:
    entries = (line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if ":" in line)
    return {name.strip(): command.strip() for name, command in entries}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_procfile_names_every_process() -> None:
    assert set(_procfile()) == {"web", "worker", "cron", "release"}


def test_the_web_process_serves_health_and_webhooks(app, app_config, db, redis_conn, redis_url, tmp_path) -> None:
    port = _free_port()
    words = shlex.split(_procfile()["web"].replace("$PORT", str(port)).replace("0.0.0.0", "127.0.0.1"))
    command = [os.path.join(os.path.dirname(sys.executable), words[0]), *words[1:]]
    env = {**os.environ, "DATABASE_URL": str(app_config["DATABASE_URL"]), "REDIS_URL": redis_url,
           "SECRET_KEY": "procfile", "CASHLINE_ENV": "development", "XERO_WEBHOOK_KEY": KEY, "LOG_LEVEL": "WARNING"}
    log = tmp_path / "web.log"
    with log.open("w") as sink:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        workers = int(words[words.index("--workers") + 1])
        deadline = time.monotonic() + 60
        # Every worker up (granian answers as soon as one is, and ignores a stop signal that arrives
        # while another is still starting), then the app answering.
        while log.read_text().count("Started worker") < workers:
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"the workers did not start within 60 s: {log.read_text()[-3000:]}"
            time.sleep(0.2)
        while True:
            try:
                assert requests.get(f"{base}/healthz", timeout=2).status_code == 200
                break
            except requests.ConnectionError:
                assert server.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "the web process did not answer within 60 s"
                time.sleep(0.2)
        invoice_id = "8a0f4c53-ec1e-4a4f-b1c5-4ae2a9a1d2a1"
        body = json.dumps({"events": [{
            "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{invoice_id}", "resourceId": invoice_id,
            "eventDateUtc": "2026-11-23T10:00:00.000", "eventType": "UPDATE", "eventCategory": "INVOICE",
            "tenantId": "org-procfile", "tenantType": "ORGANISATION"}],
            "firstEventSequence": 1, "lastEventSequence": 1, "entropy": "procfile"}).encode()
        bad = requests.post(f"{base}/webhooks/xero", data=body, timeout=5,
                            headers={"x-xero-signature": signature(body, "wrong-key")})
        assert (bad.status_code, bad.content) == (401, b"")
        good = requests.post(f"{base}/webhooks/xero", data=body, timeout=5,
                             headers={"x-xero-signature": signature(body, KEY)})
        assert (good.status_code, good.content) == (200, b"")
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
    event = db.query(WebhookEvent).one()
    assert (event.platform, event.raw_body, event.status) == ("xero", body, WebhookStatus.RECEIVED.value)
    assert get_queue("sync", redis_conn).job_ids == ["webhooks-dispatch"]
