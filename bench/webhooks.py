"""Webhook ingest benchmark: signed Xero deliveries against the app under gunicorn on loopback.

Prints deliveries/s, p50/p99 acknowledgement latency, and checks that every delivery sent was
persisted exactly once (0 lost). Targets (issue 5): >= 1,000 deliveries/s on 2 cores, p99 < 100 ms.

    .venv/bin/python bench/webhooks.py [--deliveries 5000] [--clients 16] [--database-url URL]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool

from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from addon.models import Base, WebhookEvent
from connectors.xero.webhooks import signature

KEY = "bench-webhook-key"


def delivery(tenant: str, n: int) -> bytes:
    return json.dumps({"events": [{
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{uuid.UUID(int=n)}",
        "resourceId": str(uuid.UUID(int=n)), "eventDateUtc": "2026-11-23T10:00:00.000",
        "eventType": "UPDATE", "eventCategory": "INVOICE", "tenantId": tenant, "tenantType": "ORGANISATION"}],
        "firstEventSequence": n, "lastEventSequence": n, "entropy": uuid.uuid4().hex}).encode()


def client_run(args: tuple[int, list[bytes], int]) -> list[tuple[int, float]]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections (over 2 processes)")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--port", type=int, default=5391)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    engine = create_engine(args.database_url)
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    from addon import migrate

    migrate.upgrade(args.database_url)
    env = {**os.environ, "DATABASE_URL": args.database_url, "XERO_WEBHOOK_KEY": KEY, "LOG_LEVEL": "WARNING",
           "REDIS_URL": "redis://127.0.0.1:6379/14", "SECRET_KEY": "bench", "CASHLINE_ENV": "development"}
    with tempfile.TemporaryDirectory() as tmp, open(os.path.join(tmp, "err"), "w") as errors:
        server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "gunicorn"), "--workers",
                                   str(args.workers), "--worker-class", "gthread", "--threads", "8", "--bind",
                                   f"127.0.0.1:{args.port}", "--log-level", "warning", "addon:create_app()"],
                                  env=env, cwd=os.getcwd(), stderr=errors)
        try:
            _wait_ready(args.port)
            bodies = [delivery("bench-tenant", n) for n in range(args.deliveries)]
            half = args.deliveries // 2
            started = time.perf_counter()
            with Pool(2) as pool:
                parts = pool.map(client_run, [(args.port, bodies[:half], args.clients // 2),
                                              (args.port, bodies[half:], args.clients // 2)])
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(10)
    results = [r for part in parts for r in part]
    latencies = sorted(lat for _, lat in results)
    ok = sum(1 for status, _ in results if status == 200)
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(WebhookEvent))
    rate = len(results) / elapsed
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"deliveries sent        {len(results)}")
    print(f"acknowledged 200       {ok}")
    print(f"persisted              {stored}   lost: {len(results) - stored}")
    print(f"throughput             {rate:,.0f} deliveries/s   (target >= 1,000; ratio {rate / 1000:.2f}x)")
    print(f"ack latency p50 / p99  {p50:.1f} ms / {p99:.1f} ms   (target p99 < 100 ms; ratio {100 / p99:.2f}x)")


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
    raise SystemExit("gunicorn did not start")


if __name__ == "__main__":
    main()
