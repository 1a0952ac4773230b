#!/usr/bin/env bash
# Make sure Redis (and, for the PostgreSQL test pass, PostgreSQL) answer on 127.0.0.1.
# Starts a local redis-server / PostgreSQL cluster when one is installed but not running;
# otherwise says exactly what to do. Exit status is non-zero only when a required service is missing.
set -u
need_pg="${1:-}"
status=0

redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }

if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "==> starting a local redis-server on 127.0.0.1:6379"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
    for _ in $(seq 1 50); do redis_up && break; sleep 0.1; done
  fi
  if ! redis_up; then
    echo "!! Redis is not reachable on 127.0.0.1:6379. Install it (apt-get install redis-server) and run:" >&2
    echo "   redis-server --daemonize yes --port 6379 --save ''" >&2
    status=1
  fi
fi

if [ "$need_pg" = "--postgres" ] && ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "==> starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 50); do pg_up && break; sleep 0.2; done
  fi
  if ! pg_up; then
    echo "!! PostgreSQL is not reachable on 127.0.0.1:5432 (database 'test', trust auth expected)." >&2
    status=1
  fi
fi
exit $status
