"""Cursor walks of the JSON lists: a client following ``Link: rel="next"`` sees every row that stayed in the
list exactly once, however the list changes between its requests (payments, new invoices, re-scoring,
decided or imported statement lines); a bad cursor is a clear 400; offset paging is left as it was."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from addon.models import BankLine, BankStatement, Invoice, Match, Membership, RiskScore, Role
from tests.addon.helpers import insert_big_ledger

INVOICES, LIMIT = 40, 7


@pytest.fixture
def ranked(db, make_tenant, sign_in, redis_conn):  # type: ignore[no-untyped-def]
    """A signed-in tenant with 40 open invoices, each with a risk score (so both lists rank by it)."""
    tenant = make_tenant(name="Ranked Ltd")
    insert_big_ledger(db, tenant, customers=5, invoices=INVOICES)
    for n, invoice_id in enumerate(db.scalars(select(Invoice.id).where(Invoice.tenant_id == tenant.id))):
        db.add(_score(tenant, invoice_id, Decimal(n % 17) / 20))
    db.commit()
    sign_in(tenant, Role.VIEWER)
    return tenant


def _score(tenant, invoice_id: int, p_late: Decimal) -> RiskScore:  # type: ignore[no-untyped-def]
    return RiskScore(tenant_id=tenant.id, invoice_id=invoice_id, model_version="t", p_late=p_late, band="medium",
                     p10_days=1, p50_days=5, p90_days=9, reasons=[])


def _open_ids(db, tenant) -> list[int]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(Invoice.id).where(Invoice.tenant_id == tenant.id, Invoice.status == "open",
                                                    Invoice.amount_due > 0).order_by(Invoice.id)))


def _churn(db, tenant, seen: set[int], step: int) -> set[int]:  # type: ignore[no-untyped-def]
    """Between two pages: an unseen and a seen invoice are paid, the last unseen one jumps to the top of
    the ranking and the last seen one drops to the bottom, and a new risky invoice opens. Returns the ids
    paid."""
    open_ids = _open_ids(db, tenant)
    unseen, done = [i for i in open_ids if i not in seen], [i for i in open_ids if i in seen]
    paid = {ids[0] for ids in (unseen, done) if len(ids) > 2}
    for invoice_id in paid:
        db.get(Invoice, invoice_id).status, db.get(Invoice, invoice_id).amount_due = "paid", Decimal("0")
    for ids, p_late, amount in ((unseen, "0.99", "9999.00"), (done, "0.00", "1.00")):
        if len(ids) > 3:
            invoice = db.get(Invoice, ids[-1])
            invoice.amount_due = Decimal(amount)
            db.scalars(select(RiskScore).where(RiskScore.invoice_id == invoice.id)).one().p_late = Decimal(p_late)
    new = Invoice(tenant_id=tenant.id, remote_id=f"new{step}", number=f"NEW-{step}", currency="GBP",
                  issue_date=date(2026, 10, 1), due_date=date(2026, 11, 1), total=Decimal("5000.00"),
                  amount_due=Decimal("5000.00"), status="open")
    db.add(new)
    db.flush()
    db.add(_score(tenant, new.id, Decimal("0.95")))
    db.commit()
    return paid


def _next(answer) -> str | None:  # type: ignore[no-untyped-def]
    link = answer.headers.get("Link", "")
    return link.split(";")[0].strip("<>") if 'rel="next"' in link else None


def _walk(client, db, tenant, first_url: str, key: str) -> tuple[list[int], set[int], set[int]]:  # type: ignore[no-untyped-def]
    """Follow ``Link`` from ``first_url`` churning the ledger before every next page: (ids served in
    order, ids open at the start, ids paid meanwhile)."""
    start, paid, served = set(_open_ids(db, tenant)), set(), []
    url: str | None = first_url
    step = 0
    while url is not None:
        answer = client.get(url)
        assert answer.status_code == 200, answer.get_json()
        served += [row[key] for row in answer.get_json()]
        url = _next(answer)
        if url is not None:
            step += 1
            paid |= _churn(db, tenant, set(served), step)
    return served, start, paid


@pytest.mark.parametrize("path", ["invoices", "worklist"])
def test_a_cursor_walk_serves_every_invoice_that_stayed_open_exactly_once_while_the_ranking_moves(
        client, db, ranked, path: str) -> None:
    served, start, paid = _walk(client, db, ranked, f"/api/tenants/{ranked.id}/{path}?paging=cursor&limit={LIMIT}",
                                "invoice_id")
    assert len(served) == len(set(served)), "an invoice was served twice"
    survivors = start - paid
    assert survivors - set(served) == set(), "an invoice open throughout was skipped"
    assert paid, "the walk was too short to churn"
    assert not {i for i in paid if i not in served} & set(served)
    # Invoices that opened during the walk are served too, once (at its end).
    assert set(_open_ids(db, ranked)) <= set(served)


@pytest.mark.parametrize("path", ["invoices", "worklist"])
def test_the_same_churn_does_break_offset_paging(client, db, ranked, path: str) -> None:
    # The scenario above is one offset paging cannot survive (why the cursor exists): it skips or repeats.
    served, start, paid = _walk(client, db, ranked, f"/api/tenants/{ranked.id}/{path}?limit={LIMIT}", "invoice_id")
    assert len(served) != len(set(served)) or (start - paid) - set(served)


def test_a_cursor_walk_follows_the_rows_current_values(client, db, ranked) -> None:
    url = f"/api/tenants/{ranked.id}/invoices?paging=cursor&limit={LIMIT}"
    first = client.get(url)
    later = _open_ids(db, ranked)[-1]
    if later in [row["invoice_id"] for row in first.get_json()]:
        later = _open_ids(db, ranked)[0]
    db.get(Invoice, later).amount_due = Decimal("12.34")
    db.commit()
    rows, next_url = [], _next(first)
    while next_url is not None:
        answer = client.get(next_url)
        rows += answer.get_json()
        next_url = _next(answer)
    assert next(r for r in rows if r["invoice_id"] == later)["amount_due"] == "12.34"


@pytest.mark.parametrize("path", ["invoices", "worklist"])
def test_a_list_that_fits_one_page_has_no_next_and_keeps_no_snapshot(client, ranked, redis_conn, path: str) -> None:
    answer = client.get(f"/api/tenants/{ranked.id}/{path}?paging=cursor")
    assert answer.status_code == 200
    assert len(answer.get_json()) == INVOICES
    assert answer.headers["X-Total-Count"] == str(INVOICES)
    assert answer.headers["X-Limit"] == ("500" if path == "invoices" else "200")
    assert "Link" not in answer.headers
    assert "X-Offset" not in answer.headers
    assert redis_conn.keys("cashline:list-walk:*") == []


LINES = 30


@pytest.fixture
def queue(db, make_tenant, sign_in):  # type: ignore[no-untyped-def]
    tenant = make_tenant(name="Queue Ltd")
    statement = BankStatement(tenant_id=tenant.id, fingerprint="q" * 64, filename="q.csv", format="csv",
                              line_count=LINES)
    db.add(statement)
    db.flush()
    for n in range(LINES):
        _line(db, tenant, statement, f"k{n}", date(2026, 11, 1) + timedelta(days=n % 6))
    db.commit()
    sign_in(tenant, Role.ADMIN)
    return tenant, statement


def _line(db, tenant, statement, key: str, when: date) -> int:  # type: ignore[no-untyped-def]
    line = BankLine(tenant_id=tenant.id, statement_id=statement.id, dedupe_key=key, booking_date=when,
                    amount=Decimal("10.00"), currency="GBP", counterparty_name=f"Payer {key}", status="exception",
                    reversal=False)
    db.add(line)
    db.flush()
    db.add(Match(tenant_id=tenant.id, bank_line_id=line.id, decision="none", confidence=Decimal("0"),
                 explanation="no candidate", allocations=[], suggestions=[], posted_payment_ids=[], status="proposed",
                 platform_refusals=0))
    return line.id


def _waiting(db, tenant) -> list[int]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(BankLine.id).where(BankLine.tenant_id == tenant.id, BankLine.status == "exception")
                           .order_by(BankLine.booking_date, BankLine.id)))


def test_a_cursor_walk_of_the_queue_serves_every_line_still_waiting_exactly_once(client, db, queue) -> None:
    tenant, statement = queue
    start, decided, served = set(_waiting(db, tenant)), set(), []
    url: str | None = f"/api/tenants/{tenant.id}/reconciliation/queue?paging=cursor&limit={LIMIT}"
    step = 0
    while url is not None:
        answer = client.get(url)
        assert answer.status_code == 200, answer.get_json()
        served += [row["line_id"] for row in answer.get_json()]
        url = _next(answer)
        if url is not None:  # a seen and an unseen line are decided; lines arrive on both sides of the cursor
            step += 1
            waiting = _waiting(db, tenant)
            for ids in ([i for i in waiting if i in served], [i for i in waiting if i not in served]):
                if ids:
                    db.get(BankLine, ids[0]).status = "matched"
                    decided.add(ids[0])
            _line(db, tenant, statement, f"early{step}", date(2026, 10, 1))
            _line(db, tenant, statement, f"late{step}", date(2026, 12, 1))
            db.commit()
    assert len(served) == len(set(served)), "a line was served twice"
    assert (start - decided) - set(served) == set(), "a line waiting throughout was skipped"
    assert decided & start - set(served)
    late = set(db.scalars(select(BankLine.id).where(BankLine.dedupe_key.like("late%"))))
    assert late <= set(served)  # lines after the cursor are reached; earlier ones are for the next walk


# --- bad cursors -----------------------------------------------------------------------------------------


def _first_next(client, tenant_id: int, path: str) -> str:  # type: ignore[no-untyped-def]
    answer = client.get(f"/api/tenants/{tenant_id}/{path}?paging=cursor&limit=5")
    assert answer.status_code == 200
    url = _next(answer)
    assert url is not None
    return url


def _cursor(url: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(url).query)["cursor"][0]


@pytest.fixture
def both(ranked, queue, db, sign_in):  # type: ignore[no-untyped-def]
    """The ranked tenant, with the queue's lines moved over to it (so one sign-in reaches all three lists)."""
    tenant, statement = queue
    statement.tenant_id = ranked.id
    for model in (BankLine, Match):
        for row in db.scalars(select(model).where(model.tenant_id == tenant.id)):
            row.tenant_id = ranked.id
    db.commit()
    sign_in(ranked, Role.ADMIN)
    return ranked


PATHS = ["invoices", "worklist", "reconciliation/queue"]


@pytest.mark.parametrize("path", PATHS)
def test_a_tampered_or_garbled_cursor_is_a_clear_400(client, both, path: str) -> None:
    token = _cursor(_first_next(client, both.id, path))
    middle = len(token) // 2
    tampered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]
    for bad in (tampered, "garbage", token[:-3], ""):
        answer = client.get(f"/api/tenants/{both.id}/{path}?cursor={bad}")
        assert answer.status_code == 400, bad
        assert "cursor is not valid" in answer.get_json()["error"]
        assert "?paging=cursor" in answer.get_json()["error"]


@pytest.mark.parametrize(("made_by", "used_on"), [("worklist", "invoices"), ("invoices", "worklist"),
                                                  ("reconciliation/queue", "invoices"),
                                                  ("invoices", "reconciliation/queue")])
def test_a_cursor_of_another_list_is_refused(client, both, made_by: str, used_on: str) -> None:
    token = _cursor(_first_next(client, both.id, made_by))
    answer = client.get(f"/api/tenants/{both.id}/{used_on}?cursor={token}")
    assert answer.status_code == 400
    assert "another list" in answer.get_json()["error"]


def test_a_cursor_of_another_tenant_is_refused(client, db, both, make_tenant) -> None:
    token = _cursor(_first_next(client, both.id, "invoices"))
    other = make_tenant(name="Other Ltd")
    insert_big_ledger(db, other, customers=2, invoices=10)
    with client.session_transaction() as session:  # the same user is a member of both tenants
        db.add(Membership(tenant_id=other.id, user_id=session["user_id"], role=Role.VIEWER))
    db.commit()
    answer = client.get(f"/api/tenants/{other.id}/invoices?cursor={token}")
    assert answer.status_code == 400
    assert "another list" in answer.get_json()["error"]


@pytest.mark.parametrize("path", ["invoices", "worklist"])
def test_a_cursor_whose_snapshot_expired_says_so(client, both, redis_conn, path: str) -> None:
    url = _first_next(client, both.id, path)
    redis_conn.flushdb()  # what SNAPSHOT_TTL seconds of silence do
    answer = client.get(url)
    assert answer.status_code == 400
    assert "cursor has expired" in answer.get_json()["error"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("query", "says"), [("paging=cursor&offset=10", "offset cannot be combined"),
                                             ("paging=sideways", "paging must be"),
                                             ("paging=cursor&limit=0", "limit must be")])
def test_a_cursor_with_offset_or_an_odd_paging_is_refused(client, both, path: str, query: str, says: str) -> None:
    answer = client.get(f"/api/tenants/{both.id}/{path}?{query}")
    assert answer.status_code == 400
    assert says in answer.get_json()["error"]


@pytest.mark.parametrize("path", PATHS)
def test_offset_paging_is_unchanged_and_never_hands_out_a_cursor(client, both, path: str) -> None:
    answer = client.get(f"/api/tenants/{both.id}/{path}?limit=5&offset=5")
    assert answer.status_code == 200
    assert (answer.headers["X-Limit"], answer.headers["X-Offset"]) == ("5", "5")
    assert "cursor" not in answer.headers["Link"]
    assert 'rel="next"' in answer.headers["Link"]
    assert 'rel="prev"' in answer.headers["Link"]


@pytest.mark.parametrize("path", ["invoices", "worklist"])
def test_a_walk_whose_store_does_not_answer_is_a_503_and_the_cursor_still_works_after(
        app, client, both, monkeypatch, path: str) -> None:
    from redis import Redis

    url = _first_next(client, both.id, path)
    with monkeypatch.context() as patch:  # nothing listens on port 1
        patch.setitem(app.extensions, "cashline_redis", Redis.from_url("redis://127.0.0.1:1/0"))
        answer = client.get(url)
    assert answer.status_code == 503
    assert "retry the same URL" in answer.get_json()["error"]
    assert client.get(url).status_code == 200
