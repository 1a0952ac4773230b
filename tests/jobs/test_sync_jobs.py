from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from addon.domain.types import Allocation, NewPayment
from addon.models import CreditNote, Customer, Invoice, Payment, TenantStatus
from addon.queueing import get_queue
from connectors.errors import AuthError
from connectors.fake import InMemoryConnector
from jobs import sync as sync_jobs
from jobs.cron import run_due
from jobs.runtime import set_app
from tests.addon.helpers import contact, invoice


@pytest.fixture
def fake_tenant(app, make_tenant, db, monkeypatch):
    tenant = make_tenant(platform="fake", remote_id="org-9")
    db.commit()
    connector = InMemoryConnector(tenant_remote_id="org-9")
    connector.seed(contacts=[contact("C1"), contact("C2", "Globex BV", "ar@globex.example")],
                   invoices=[invoice("I1"), invoice("I2", "C2", "250.00", "250.00")])
    monkeypatch.setitem(app.config, "CONNECTOR_FACTORY", lambda t: connector)
    set_app(app)
    return tenant, connector


def test_backfill_mirrors_everything_and_is_idempotent(db, fake_tenant, redis_conn) -> None:
    tenant, _ = fake_tenant
    assert sync_jobs.backfill_tenant(tenant.id) == {"contacts": 2, "invoices": 2, "payments": 0,
                                                    "credit_notes": 0, "deleted": 0}
    sync_jobs.backfill_tenant(tenant.id)
    assert db.query(Customer).count() == 2
    assert db.query(Invoice).count() == 2
    assert db.query(Invoice).filter_by(remote_id="I2").one().customer.name == "Globex BV"


def test_incremental_sync_applies_payments(db, fake_tenant, redis_conn) -> None:
    tenant, connector = fake_tenant
    sync_jobs.backfill_tenant(tenant.id)
    connector.create_payment(NewPayment(contact_id="C1", date=datetime.now(UTC).date(), currency="GBP",
                                        allocations=(Allocation("I1", Decimal("40.00")),)), idempotency_key="k1")
    assert sync_jobs.sync_tenant(tenant.id)["payments"] == 1
    db.expire_all()
    inv = db.query(Invoice).filter_by(remote_id="I1").one()
    assert inv.amount_due == Decimal("60.00")
    payment = db.query(Payment).one()
    assert [(a.invoice_id, a.amount) for a in payment.allocations] == [(inv.id, Decimal("40.00"))]


def test_a_backfill_invalidates_the_cached_write_off_rates_and_a_sync_does_not(db, fake_tenant, redis_conn) -> None:
    from addon.services import provision_cache

    tenant, connector = fake_tenant
    generation = provision_cache.generation_key(tenant.id)
    sync_jobs.backfill_tenant(tenant.id)
    assert redis_conn.get(generation) == b"1"
    connector.create_payment(NewPayment(contact_id="C1", date=datetime.now(UTC).date(), currency="GBP",
                                        allocations=(Allocation("I1", Decimal("40.00")),)), idempotency_key="k1")
    assert sync_jobs.sync_tenant(tenant.id)["payments"] == 1
    assert redis_conn.get(generation) == b"1"  # an incremental sync keeps the day's rates (docs/forecasting.md)
    sync_jobs.backfill_tenant(tenant.id)
    assert redis_conn.get(generation) == b"2"


def test_platform_side_disconnect_marks_tenant_and_stops(db, fake_tenant, redis_conn) -> None:
    tenant, connector = fake_tenant
    connector.fail_next(AuthError("401 Unauthorized: token revoked", status=401))
    assert sync_jobs.backfill_tenant(tenant.id) == {"needs_reauth": 1}
    db.expire_all()
    assert db.get(type(tenant), tenant.id).status is TenantStatus.NEEDS_REAUTH
    assert sync_jobs.sync_tenant(tenant.id) == {"skipped": 1}


def test_sweep_fans_out_full_then_incremental(db, fake_tenant, redis_conn) -> None:
    tenant, _ = fake_tenant
    assert sync_jobs.sweep_all() == {"tenants": 1, "full": 1}
    queue = get_queue("sync", redis_conn)
    assert [j.func_name for j in queue.jobs] == ["jobs.sync.backfill_tenant"]
    queue.empty()
    sync_jobs.backfill_tenant(tenant.id)
    assert sync_jobs.sweep_all() == {"tenants": 1, "full": 0}
    assert [j.id for j in queue.jobs] == [f"sync-{tenant.id}"]
    assert sync_jobs.sweep_all() == {"tenants": 1, "full": 0}  # unique job id: not queued twice
    assert queue.count == 1


def test_cron_claims_each_slot_once(redis_conn) -> None:
    from jobs.cron import Periodic

    schedule = [Periodic("t", "jobs.sync.sweep_all", "sync", 60)]
    now = 1_800_000_000.0
    assert run_due(redis_conn, now, schedule) == ["t"]
    assert run_due(redis_conn, now + 1, schedule) == []  # same slot, e.g. a second cron process
    assert run_due(redis_conn, now + 61, schedule) == ["t"]


def test_removed_invoice_is_marked_deleted(db, fake_tenant, redis_conn) -> None:
    tenant, connector = fake_tenant
    sync_jobs.backfill_tenant(tenant.id)
    del connector.invoices["I2"]
    from addon.services import sync

    t = db.get(type(tenant), tenant.id)
    sync.sync_invoice(db, t, connector, "I2")
    db.commit()
    assert db.query(Invoice).filter_by(remote_id="I2").one().status == "deleted"


@pytest.mark.parametrize(("last", "expected"), [(None, True), (timedelta(hours=23), False),
                                                (timedelta(hours=24), True)])
def test_full_sweep_is_due_once_a_day(last: timedelta | None, expected: bool) -> None:
    from addon.services.sync import full_sweep_due

    now = datetime(2026, 11, 2, tzinfo=UTC)
    assert full_sweep_due(None if last is None else now - last, now) is expected


def test_platform_deletions_mark_known_invoices_and_payments(db, fake_tenant, redis_conn) -> None:
    from addon.domain.types import Payment as PlatformPayment
    from addon.services import sync

    tenant, _ = fake_tenant
    sync_jobs.backfill_tenant(tenant.id)
    t = db.get(type(tenant), tenant.id)
    mirror = sync.Mirror(db, t)
    mirror.upsert_payments([PlatformPayment("P1", "C1", datetime(2026, 11, 2).date(), Decimal("10.00"), "GBP")])
    db.commit()

    count = sync.Mirror(db, t).mark_deleted({"invoice": ["I1", "not-mirrored"], "payment": ["P1", "unknown"]})
    db.commit()
    assert count == 2  # only what the mirror holds
    assert db.query(Invoice).filter_by(remote_id="I1").one().status == "deleted"
    assert db.query(Invoice).filter_by(remote_id="I2").one().status == "open"
    assert db.query(Payment).filter_by(remote_id="P1").one().deleted is True


def test_incremental_changes_with_new_documents_of_unchanged_customers(db, fake_tenant, redis_conn) -> None:
    """CDC / If-Modified-Since often bring a new invoice or payment without its (unchanged) customer."""
    from addon.domain.types import Payment as PlatformPayment
    from addon.services import sync
    from connectors.base import ChangeSet

    tenant, _ = fake_tenant
    sync_jobs.backfill_tenant(tenant.id)
    t = db.get(type(tenant), tenant.id)
    changes = ChangeSet(contacts=[], invoices=[invoice("I9", "C2", "75.00", "75.00")], credit_notes=[],
                        payments=[PlatformPayment("P9", "C1", datetime(2026, 11, 2).date(), Decimal("5.00"), "GBP")],
                        deleted={})
    result = sync.apply_changes(db, t, changes)
    db.commit()
    assert (result.invoices, result.payments) == (1, 1)
    assert db.query(Invoice).filter_by(remote_id="I9").one().customer.name == "Globex BV"
    assert db.query(Payment).filter_by(remote_id="P9").one().customer_id is not None


@pytest.mark.parametrize("listed", [2000, 0], ids=["candidates-listed", "tenant-scanned"])
def test_paid_invoices_without_a_platform_date_are_dated_by_their_last_application(db, fake_tenant, monkeypatch,
                                                                                   listed: int) -> None:
    """QuickBooks keeps no paid date: the mirror takes the latest payment (not deleted) or credit note applied,
    whether a run lists the invoices it touched or (a backfill) scans the tenant's paid ones."""
    from dataclasses import replace

    from addon.domain.types import CreditNote as PlatformCreditNote
    from addon.domain.types import InvoiceStatus
    from addon.domain.types import Payment as PlatformPayment
    from addon.services import sync
    from connectors.base import ChangeSet

    monkeypatch.setattr(sync, "_SETTLEMENT_CANDIDATES", listed)
    tenant, _ = fake_tenant
    t = db.get(type(tenant), tenant.id)
    day = datetime(2026, 11, 1).date()
    paid = {remote_id: replace(invoice(remote_id, amount="100.00", due="0.00"), status=InvoiceStatus.PAID)
            for remote_id in ("I1", "I2", "I3", "I4")}
    paid["I4"] = replace(paid["I4"], fully_paid_on=day)  # the platform's own date (Xero's FullyPaidOnDate)

    def payment(remote_id: str, days: int, invoice_id: str, deleted: bool = False) -> PlatformPayment:
        return PlatformPayment(remote_id, "C1", day + timedelta(days=days), Decimal("50.00"), "GBP",
                               allocations=(Allocation(invoice_id, Decimal("50.00")),), deleted=deleted)

    changes = ChangeSet(
        contacts=[contact("C1")], invoices=[*paid.values(), invoice("I5")],
        payments=[payment("P1", 4, "I1"), payment("P2", 11, "I1"), payment("P3", 20, "I1", deleted=True),
                  payment("P4", 30, "I4")],
        credit_notes=[PlatformCreditNote("CN1", "CN-1", "C1", day + timedelta(days=7), "GBP", Decimal("100.00"),
                                         Decimal("0.00"), allocations=(Allocation("I2", Decimal("100.00")),))],
        deleted={})
    sync.apply_changes(db, t, changes)
    db.commit()

    def dates() -> dict[str, object]:
        db.expire_all()
        return {i.remote_id: i.fully_paid_on for i in db.query(Invoice).order_by(Invoice.remote_id)}

    assert dates() == {"I1": day + timedelta(days=11), "I2": day + timedelta(days=7), "I3": None, "I4": day,
                       "I5": None}  # I3: paid, nothing known applied to it; I5: open
    # The invoice read again (as after a webhook), still without a date from the platform: the date stays.
    sync.apply_changes(db, t, ChangeSet(contacts=[], invoices=[paid["I1"]], payments=[], credit_notes=[],
                                        deleted={}))
    assert dates()["I1"] == day + timedelta(days=11)
    # I3's payment reaches us in a later sync, on its own: I3 is dated then.
    sync.apply_changes(db, t, ChangeSet(contacts=[], invoices=[], payments=[payment("P5", 2, "I3")],
                                        credit_notes=[], deleted={}))
    assert dates()["I3"] == day + timedelta(days=2)
    # Re-opened (its payment taken back): no paid date any more.
    sync.apply_changes(db, t, ChangeSet(contacts=[], invoices=[invoice("I1", amount="100.00", due="50.00")],
                                        payments=[], credit_notes=[], deleted={}))
    assert dates()["I1"] is None


def test_platform_deletions_of_credit_notes_and_customers_are_applied(db, fake_tenant, redis_conn) -> None:
    """QBO's CDC reports deleted CreditMemos and Customers too: a deleted credit memo must stop counting
    (its allocations otherwise keep reducing the customer's debt) and a deleted customer stops being listed."""
    from addon.domain.types import CreditNote as PlatformCreditNote
    from addon.services import sync

    tenant, _ = fake_tenant
    sync_jobs.backfill_tenant(tenant.id)
    t = db.get(type(tenant), tenant.id)
    note = PlatformCreditNote("CN1", "CN-1", "C1", datetime(2026, 11, 2).date(), "GBP", Decimal("30.00"),
                              Decimal("0.00"), allocations=(Allocation("I1", Decimal("30.00")),))
    sync.Mirror(db, t).upsert_credit_notes([note])
    db.commit()

    count = sync.Mirror(db, t).mark_deleted({"credit_note": ["CN1", "unknown"], "contact": ["C2"]})
    db.commit()
    assert count == 2
    assert db.query(CreditNote).filter_by(remote_id="CN1").one().voided is True
    assert db.query(Customer).filter_by(remote_id="C2").one().archived is True


def test_backfill_marks_what_the_platform_no_longer_lists(db, fake_tenant, redis_conn) -> None:
    """QBO's query sweep (used past CDC's 30 days or its 1000-object cap) cannot report deletions, and a
    deleted QBO object is simply absent: the daily backfill is what catches it, so an invoice or payment
    deleted meanwhile must not stay open in the mirror."""
    from addon.domain.types import Payment as PlatformPayment

    tenant, connector = fake_tenant
    connector.seed(payments=[PlatformPayment("P1", "C1", datetime(2026, 11, 2).date(), Decimal("10.00"), "GBP",
                                             allocations=(Allocation("I1", Decimal("10.00")),))])
    sync_jobs.backfill_tenant(tenant.id)
    del connector.invoices["I2"]
    del connector.payments["P1"]

    assert sync_jobs.backfill_tenant(tenant.id)["deleted"] == 2
    db.expire_all()
    assert db.query(Invoice).filter_by(remote_id="I2").one().status == "deleted"
    assert db.query(Invoice).filter_by(remote_id="I1").one().status == "open"
    assert db.query(Payment).filter_by(remote_id="P1").one().deleted is True
    assert sync_jobs.backfill_tenant(tenant.id)["deleted"] == 0  # already applied


def test_a_rate_limited_sync_is_rescheduled_after_retry_after_without_failing(db, fake_tenant, redis_conn) -> None:
    """A daily limit is not a failure: the job comes back after Retry-After with its RQ retries intact."""
    from rq.registry import ScheduledJobRegistry

    from connectors.errors import RateLimitedError

    tenant, connector = fake_tenant
    connector.fail_next(RateLimitedError("daily limit", retry_after=3600, problem="day"))
    before = datetime.now(UTC)
    assert sync_jobs.backfill_tenant(tenant.id) == {"deferred": 1}
    registry = ScheduledJobRegistry(queue=get_queue("sync", redis_conn))
    [job_id] = registry.get_job_ids()
    assert job_id.startswith(f"backfill-{tenant.id}-at-")
    due = registry.get_scheduled_time(job_id)
    assert before + timedelta(seconds=3600) - timedelta(seconds=1) <= due <= datetime.now(UTC) + timedelta(hours=1)
    db.expire_all()
    assert db.get(type(tenant), tenant.id).status is TenantStatus.CONNECTED
    assert db.query(Invoice).count() == 0  # nothing half-written


def test_backfill_stores_the_platform_home_currency_and_invoice_rates(db, app, make_tenant, monkeypatch,
                                                                      redis_conn) -> None:
    import dataclasses

    tenant = make_tenant(platform="fake", remote_id="org-usd", base_currency=None)
    db.commit()
    connector = InMemoryConnector(tenant_remote_id="org-usd")
    connector.home_currency = "USD"
    jpy = dataclasses.replace(invoice("I1"), currency="JPY", home_rate=Decimal("0.0066225166"))
    connector.seed(contacts=[contact("C1")], invoices=[jpy, invoice("I2")])
    monkeypatch.setitem(app.config, "CONNECTOR_FACTORY", lambda t: connector)
    set_app(app)
    sync_jobs.backfill_tenant(tenant.id)
    db.expire_all()
    assert db.get(type(tenant), tenant.id).base_currency == "USD"
    rates = {i.remote_id: i.home_rate for i in db.query(Invoice)}
    assert rates == {"I1": Decimal("0.0066225166"), "I2": None}
    # The books moved currency: the next backfill (the daily sweep) corrects the tenant.
    connector.home_currency = "CAD"
    sync_jobs.backfill_tenant(tenant.id)
    db.expire_all()
    assert db.get(type(tenant), tenant.id).base_currency == "CAD"


def test_incremental_sync_fills_in_a_missing_home_currency(db, fake_tenant, redis_conn) -> None:
    tenant, connector = fake_tenant
    sync_jobs.backfill_tenant(tenant.id)
    db.expire_all()
    db.get(type(tenant), tenant.id).base_currency = None  # a tenant installed before Cashline read it
    db.commit()
    connector.home_currency = "EUR"
    sync_jobs.sync_tenant(tenant.id)
    db.expire_all()
    assert db.get(type(tenant), tenant.id).base_currency == "EUR"


def test_backfill_stores_the_platform_country_and_keeps_it_when_the_platform_does_not_say(db, app, make_tenant,
                                                                                        monkeypatch,
                                                                                        redis_conn) -> None:
    tenant = make_tenant(platform="fake", remote_id="org-ca")
    db.commit()
    connector = InMemoryConnector(tenant_remote_id="org-ca")
    connector.country = "CA"
    monkeypatch.setitem(app.config, "CONNECTOR_FACTORY", lambda t: connector)
    set_app(app)
    sync_jobs.backfill_tenant(tenant.id)
    db.expire_all()
    assert db.get(type(tenant), tenant.id).country == "CA"
    connector.country = None  # a platform that does not say leaves what is stored
    sync_jobs.backfill_tenant(tenant.id)
    db.expire_all()
    assert db.get(type(tenant), tenant.id).country == "CA"
