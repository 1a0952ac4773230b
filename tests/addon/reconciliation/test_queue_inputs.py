"""The exception queue's forms with odd but possible input: a clear error where it was typed, never a 500."""

from __future__ import annotations

import html
import re

import pytest

from addon.models import BankLine
from addon.queueing import get_queue
from jobs.reconcile import reconcile_statement
from tests.addon.reconciliation.statements import camt053
from tests.addon.reconciliation.test_pages import STATEMENT, _csrf, _upload, signed_in  # noqa: F401 - fixture


@pytest.fixture
def queued(client, tenant, signed_in, redis_conn) -> int:  # type: ignore[no-untyped-def]  # noqa: F811
    """The id of the JS HOLDINGS line (999.00, waiting in the exception queue for INV-2001)."""
    signed_in()
    _upload(client, tenant, camt053(STATEMENT))
    [job] = get_queue("reconcile", redis_conn).jobs
    reconcile_statement(*job.args)
    api = client.get(f"/api/tenants/{tenant.id}/reconciliation/queue").json
    return int(next(e["line_id"] for e in api if e["counterparty"] == "JS HOLDINGS"))


@pytest.mark.parametrize("amount", ["1e30", "NaN", "12.345", "abc"])
def test_a_refused_apply_form_comes_back_on_its_line_as_typed(client, db, tenant, queued, amount: str) -> None:
    answer = client.post(f"/tenants/{tenant.id}/reconciliation/lines/{queued}/change",
                         data={"csrf_token": _csrf(client, tenant), "invoice": ["INV-2001", "", "", ""],
                               "amount": [amount, "", "", ""]})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    card = page[page.index(f'id="line-{queued}"'):]
    error = re.search(rf'id="apply-error-{queued}">([^<]+)<', card)
    assert error is not None
    assert "is not an amount" in html.unescape(error.group(1))
    assert 'value="INV-2001"' in card
    assert f'value="{amount}"' in card
    db.expire_all()
    assert db.get(BankLine, queued).status == "exception"  # nothing changed


def test_an_apply_form_for_a_line_another_user_already_decided_says_so(client, db, tenant, queued) -> None:
    token = _csrf(client, tenant)
    client.post(f"/tenants/{tenant.id}/reconciliation/lines/{queued}/reject", data={"csrf_token": token})
    answer = client.post(f"/tenants/{tenant.id}/reconciliation/lines/{queued}/change",
                         data={"csrf_token": token, "invoice": ["INV-2001"], "amount": ["999.00"]})
    assert answer.status_code == 422
    assert "this line is already ignored" in answer.get_data(as_text=True)


@pytest.mark.parametrize("suggestion", ["", "-1", "x", "99"])
def test_confirming_a_suggestion_that_is_not_there_says_so_in_words(client, tenant, queued, suggestion: str) -> None:
    client.post(f"/tenants/{tenant.id}/reconciliation/lines/{queued}/confirm",
                data={"csrf_token": _csrf(client, tenant), "suggestion": suggestion})
    page = client.get(f"/tenants/{tenant.id}/reconciliation").get_data(as_text=True)
    assert "Not confirmed: no such suggestion" in page
    assert "invalid literal" not in page


def test_a_queue_longer_than_the_page_says_how_many_wait(client, db, tenant, signed_in) -> None:  # noqa: F811
    from datetime import date
    from decimal import Decimal

    from addon.models import BankStatement, Match

    signed_in()
    statement = BankStatement(tenant_id=tenant.id, fingerprint="f" * 64, filename="big.csv", format="csv",
                              line_count=205)
    db.add(statement)
    db.flush()
    for n in range(205):
        line = BankLine(tenant_id=tenant.id, statement_id=statement.id, dedupe_key=f"k{n}",
                        booking_date=date(2026, 11, 1), amount=Decimal("10.00"), currency="GBP",
                        counterparty_name=f"Payer {n}", status="exception")
        db.add(line)
        db.flush()
        db.add(Match(tenant_id=tenant.id, bank_line_id=line.id, decision="none", confidence=Decimal("0"),
                     explanation="no candidate"))
    db.commit()
    page = client.get(f"/tenants/{tenant.id}/reconciliation").get_data(as_text=True)
    assert page.count('class="card queue-line"') == 100  # a page at a time (test_queue_at_scale.py)
    assert '<span class="pill" id="queue-total">205</span>' in page
    assert "Showing 1–100 of 205" in page
