"""Webhook ingest benchmark: signed Xero deliveries against the app as the Procfile serves it.

Starts the Procfile's web command (granian, WSGI, 2 workers x 4 threads) on loopback against
PostgreSQL and Redis, sends unique signed deliveries, and prints deliveries/s, p50/p99
acknowledgement latency and the count persisted against the count acknowledged (0 lost). Targets
(issue 5): >= 1,000 deliveries/s on 2 cores, p99 < 100 ms.

The load generator shares the 2 cores with the server, PostgreSQL and Redis, so its own cost counts:
Debian's ``wrk`` (C, one thread) is used when installed (``apt-get install wrk``), else a Python
client (2 processes of keep-alive connections), which costs about as much CPU per request as the
server and so roughly halves what is measured. Both are printed when both can run (``--client both``).
With wrk, a second run paces every connection (a pause after each response) to about the 1,000/s target
and reports latency below saturation; the saturated run's latency is mostly queueing. Both runs follow
a short unmeasured warm-up.

    .venv/bin/python bench/webhooks.py [--seconds 10] [--connections 16] [--client auto|wrk|python|both]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, select, text

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from addon.models import Base, WebhookEvent
from connectors.xero.webhooks import signature

KEY = "bench-webhook-key"
ROOT = Path(__file__).resolve().parent.parent
TARGET_RATE, TARGET_P99_MS = 1000.0, 100.0

# wrk: one pre-signed unique delivery per request, in order; latency percentiles from wrk's histogram.
WRK_SCRIPT = """
local items, i = {}, 0
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
delay = function() return pause end
for line in io.lines(os.getenv("BENCH_BODIES")) do
  local tab = line:find("\\t")
  items[#items + 1] = {line:sub(1, tab - 1), line:sub(tab + 1)}
end
request = function()
  i = i + 1
  local item = items[((i - 1) % #items) + 1]
  return wrk.format("POST", "/webhooks/xero",
                    {["x-xero-signature"] = item[1], ["Content-Type"] = "application/json"}, item[2])
end
done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("BENCH %d %d %d %.3f %.3f\\n", summary.requests, non2xx, summary.duration,
                         latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


@dataclass
class Run:
    client: str
    sent: int
    acknowledged: int
    seconds: float
    p50_ms: float
    p99_ms: float
    persisted: int


def delivery(tenant: str, n: int) -> bytes:
    return json.dumps({"events": [{
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{uuid.UUID(int=n)}",
        "resourceId": str(uuid.UUID(int=n)), "eventDateUtc": "2026-11-23T10:00:00.000",
        "eventType": "UPDATE", "eventCategory": "INVOICE", "tenantId": tenant, "tenantType": "ORGANISATION"}],
        "firstEventSequence": n, "lastEventSequence": n, "entropy": uuid.uuid4().hex}).encode()


def run_wrk(port: int, seconds: int, connections: int, tmp: Path, first: int,
            delay_ms: int = 0) -> tuple[int, int, float, float, float]:
    """One wrk run; ``delay_ms`` paces each connection (a pause after every response) below saturation."""
    count = seconds * 4000  # more unique bodies than the server can take in that time: none repeats
    bodies = tmp / "bodies.tsv"
    with bodies.open("w") as out:
        for n in range(first, first + count):
            body = delivery("bench-tenant", n)
            out.write(f"{signature(body, KEY)}\t{body.decode()}\n")
    script = tmp / "post.lua"
    script.write_text(WRK_SCRIPT)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s",
                          str(script), f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                         env={**os.environ, "BENCH_BODIES": str(bodies), "BENCH_DELAY_MS": str(delay_ms)},
                         check=True).stdout
    match = re.search(r"BENCH (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)", out)
    if match is None:
        raise SystemExit(f"could not read wrk's output:\n{out}")
    requests, non2xx, micros = int(match[1]), int(match[2]), int(match[3])
    if requests > count:
        raise SystemExit("wrk sent more requests than unique bodies; raise the body count")
    return requests, requests - non2xx, micros / 1e6, float(match[4]), float(match[5])


def python_client(args: tuple[int, list[bytes], int]) -> list[tuple[int, float]]:
    port, bodies, threads = args

    def send(chunk: list[bytes]) -> list[tuple[int, float]]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        out = []
        for body in chunk:
            started = time.perf_counter()
            conn.request("POST", "/webhooks/xero", body=body, headers={
                "x-xero-signature": signature(body, KEY), "Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            out.append((resp.status, time.perf_counter() - started))
        conn.close()
        return out

    chunks = [bodies[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        return [r for part in pool.map(send, chunks) for r in part]


def run_python(port: int, deliveries: int, connections: int, first: int) -> tuple[int, int, float, float, float]:
    bodies = [delivery("bench-tenant", n) for n in range(first, first + deliveries)]
    half = deliveries // 2
    started = time.perf_counter()
    with Pool(2) as pool:
        parts = pool.map(python_client, [(port, bodies[:half], connections // 2),
                                         (port, bodies[half:], connections // 2)])
    elapsed = time.perf_counter() - started
    results = [r for part in parts for r in part]
    latencies = sorted(lat for _, lat in results)
    ok = sum(1 for status, _ in results if status == 200)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return len(results), ok, elapsed, statistics.median(latencies) * 1000, p99 * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="wrk run length")
    parser.add_argument("--deliveries", type=int, default=5000, help="Python client: deliveries to send")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--client", choices=("auto", "wrk", "python", "both"), default="auto")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--port", type=int, default=5391)
    args = parser.parse_args()
    has_wrk = shutil.which("wrk") is not None
    clients = {"auto": ["wrk" if has_wrk else "python"], "both": ["wrk", "python"]}.get(args.client, [args.client])
    if "wrk" in clients and not has_wrk:
        raise SystemExit("wrk is not installed (apt-get install wrk); use --client python")

    engine = _fresh_database(args.database_url)
    env = {**os.environ, "DATABASE_URL": args.database_url, "XERO_WEBHOOK_KEY": KEY, "LOG_LEVEL": "WARNING",
           "REDIS_URL": "redis://127.0.0.1:6379/14", "SECRET_KEY": "bench", "CASHLINE_ENV": "development"}
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp, open(os.path.join(tmp, "err"), "w") as errors:
        command = procfile_web_command(args.port)
        server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=errors, stderr=errors)
        try:
            _wait_ready(args.port)
            _warm_up(args.port, Path(tmp) if has_wrk else None)
            for number, client in enumerate(clients):
                before = _stored(engine)
                first = (number + 1) * 10_000_000  # unique deliveries across runs
                if client == "wrk":
                    figures = run_wrk(args.port, args.seconds, args.connections, Path(tmp), first)
                else:
                    figures = run_python(args.port, args.deliveries, args.connections, first)
                time.sleep(0.5)  # requests in flight when wrk stopped finish
                runs.append(Run(client, *figures, persisted=_stored(engine) - before))
                if client == "wrk":  # latency at the target rate, below saturation
                    before = _stored(engine)
                    pause = max(0, round(1000 * args.connections / TARGET_RATE) - 5)  # minus ~latency
                    figures = run_wrk(args.port, args.seconds, args.connections, Path(tmp), first + 5_000_000, pause)
                    time.sleep(0.5)
                    runs.append(Run(f"wrk paced to ~{TARGET_RATE:,.0f}/s", *figures,
                                    persisted=_stored(engine) - before))
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
    for run in runs:
        _report(run, args.connections)


def procfile_web_command(port: int) -> list[str]:
    """The Procfile's ``web:`` line, on loopback and ``port``, with the virtualenv's executables."""
    line = next(entry for entry in (ROOT / "Procfile").read_text().splitlines() if entry.startswith("web:"))
    words = shlex.split(line.removeprefix("web:").replace("$PORT", str(port)).replace("0.0.0.0", "127.0.0.1"))  # noqa: S104
    return [os.path.join(os.path.dirname(sys.executable), words[0]), *words[1:]]


def _warm_up(port: int, tmp: Path | None) -> None:
    """Let every server worker open its database and Redis connections before anything is measured
    (granian answers /healthz as soon as one worker is up; the others may still be starting)."""
    time.sleep(3)
    if tmp is not None:
        run_wrk(port, 2, 16, tmp, 0)
    else:
        run_python(port, 400, 16, 0)


def _report(run: Run, connections: int) -> None:
    rate = run.acknowledged / run.seconds
    lost = max(0, run.acknowledged - run.persisted)
    print(f"== client: {run.client} ({connections} connections); server: the Procfile's web command, warmed up")
    print(f"deliveries sent        {run.sent}")
    print(f"acknowledged 200       {run.acknowledged}")
    print(f"persisted              {run.persisted}   lost: {lost}"
          + (f"   (+{run.persisted - run.acknowledged} still in flight when the client stopped)"
             if run.persisted > run.acknowledged else ""))
    if run.client.startswith("wrk paced"):
        print(f"throughput             {rate:,.0f} deliveries/s   (paced: the latency below is at this load)")
    else:
        print(f"throughput             {rate:,.0f} deliveries/s   (target >= 1,000; ratio {rate / TARGET_RATE:.2f}x)")
    print(f"ack latency p50 / p99  {run.p50_ms:.1f} ms / {run.p99_ms:.1f} ms   "
          f"(target p99 < 100 ms; ratio {TARGET_P99_MS / run.p99_ms:.2f}x)")


def _fresh_database(url: str) -> Engine:
    engine = create_engine(url)
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    from addon import migrate

    migrate.upgrade(url)
    return engine


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(WebhookEvent)) or 0)


def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the web server did not start")


if __name__ == "__main__":
    main()
