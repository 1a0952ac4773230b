"""Token storage and the serialised refresh, on the real database and Redis."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from addon.domain.types import TokenSet
from addon.models import Connection
from addon.security import TokenCipher
from addon.services.connections import DatabaseTokenStore, store_tokens


def _tokens(n: int) -> TokenSet:
    return TokenSet(access_token=f"access-{n}", refresh_token=f"refresh-{n}",
                    expires_at=datetime.now(UTC) + timedelta(minutes=30), scope="accounting.invoices")


@pytest.fixture
def stored(app, db, make_tenant, redis_conn):
    tenant = make_tenant(platform="xero")
    cipher = TokenCipher(app.config["TOKEN_ENCRYPTION_KEY"])
    store_tokens(db, tenant, _tokens(0), cipher)
    db.commit()
    return tenant, cipher


def test_tokens_are_encrypted_at_rest(app, db, stored) -> None:
    tenant, cipher = stored
    row = db.query(Connection).one()
    assert b"refresh-0" not in row.refresh_token_enc
    assert DatabaseTokenStore(app.extensions["cashline_db"].engine, None, tenant.id, cipher).load().refresh_token \
        == "refresh-0"


def test_eight_workers_refreshing_at_once_make_one_refresh_call(app, stored, redis_conn) -> None:
    tenant, cipher = stored
    engine = app.extensions["cashline_db"].engine
    calls: list[str] = []
    used_refresh_tokens: list[str] = []

    def do_refresh(current: TokenSet) -> TokenSet:
        # A rotating provider: each refresh token works once (the second use is invalid_grant).
        if current.refresh_token in used_refresh_tokens:
            raise AssertionError("invalid_grant: refresh token already used")
        used_refresh_tokens.append(current.refresh_token)
        calls.append(current.refresh_token)
        time.sleep(0.2)  # a slow token endpoint widens the race window
        return _tokens(len(calls))

    stale = _tokens(0)
    results: list[TokenSet] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        store = DatabaseTokenStore(engine, redis_conn, tenant.id, cipher)  # one per worker, like processes
        barrier.wait()
        try:
            results.append(store.refresh(stale, do_refresh))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert calls == ["refresh-0"]
    assert {r.access_token for r in results} == {"access-1"}
    assert DatabaseTokenStore(engine, redis_conn, tenant.id, cipher).load().refresh_token == "refresh-1"


def test_rotated_token_is_persisted_before_it_is_used(app, stored, redis_conn) -> None:
    tenant, cipher = stored
    engine = app.extensions["cashline_db"].engine
    store = DatabaseTokenStore(engine, redis_conn, tenant.id, cipher)
    fresh = store.refresh(_tokens(0), lambda current: _tokens(7))
    assert fresh.refresh_token == "refresh-7"
    # A brand-new store (another process) sees it immediately: it was committed, not just flushed.
    assert DatabaseTokenStore(engine, redis_conn, tenant.id, cipher).load().refresh_token == "refresh-7"


def test_key_rotation_reencrypts_stored_tokens(app, db, stored) -> None:
    from cryptography.fernet import Fernet

    from addon.services.connections import rotate_token_encryption

    tenant, _ = stored
    new_key = Fernet.generate_key().decode()
    assert rotate_token_encryption(db, f"{new_key},{app.config['TOKEN_ENCRYPTION_KEY']}") == 1
    db.commit()
    only_new = DatabaseTokenStore(app.extensions["cashline_db"].engine, None, tenant.id, TokenCipher(new_key))
    assert only_new.load().refresh_token == "refresh-0"


def test_waiting_too_long_for_the_refresh_lock_is_transient_not_a_reconnect(app, stored, redis_conn,
                                                                           monkeypatch) -> None:
    """Another worker holding the lock (a slow token endpoint) is no sign the tokens are bad: the sync job
    marks the tenant needs_reauth on AuthError, so lock contention must be a retryable TransientError."""
    from addon.services import connections
    from connectors.errors import AuthError, TransientError

    tenant, cipher = stored
    monkeypatch.setattr(connections, "LOCK_WAIT", 0.1)
    holder = redis_conn.lock(f"cashline:refresh:{tenant.id}", timeout=30)
    assert holder.acquire()
    try:
        store = DatabaseTokenStore(app.extensions["cashline_db"].engine, redis_conn, tenant.id, cipher)
        with pytest.raises(TransientError) as raised:
            store.refresh(_tokens(0), lambda current: _tokens(1))
        assert not isinstance(raised.value, AuthError)
    finally:
        holder.release()
