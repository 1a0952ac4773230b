"""The mirror keeps each customer's number in E.164, read in the tenant's country; doubtful ones are None."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from addon.domain.types import Contact
from addon.models import Customer
from addon.services import sync


def _mobiles(db: Any, tenant: Any, numbers: dict[str, str | None]) -> dict[str, str | None]:
    sync.Mirror(db, tenant).upsert_contacts([Contact(remote_id=k, name=k, mobile=v) for k, v in numbers.items()])
    rows = db.scalars(select(Customer).where(Customer.tenant_id == tenant.id))
    return {r.remote_id: r.mobile for r in rows}


def test_numbers_stored_as_e164_in_the_tenants_country(db: Any, make_tenant: Any) -> None:
    gb = make_tenant(country="GB")
    assert _mobiles(db, gb, {"A": "07911 123456", "B": "+1 (415) 555-2671", "C": "n/a", "D": None,
                             "E": "07911 12"}) == {"A": "+447911123456", "B": "+14155552671", "C": None,
                                                   "D": None, "E": None}
    us = make_tenant(country="US")
    assert _mobiles(db, us, {"A": "(415) 555-2671", "B": "07911 123456"}) == {"A": "+14155552671", "B": None}


def test_a_tenant_without_country_keeps_only_international_numbers(db: Any, make_tenant: Any) -> None:
    tenant = make_tenant(country=None)
    assert _mobiles(db, tenant, {"A": "07911 123456", "B": "+44 7911 123456"}) == {"A": None, "B": "+447911123456"}


def test_a_number_removed_on_the_platform_is_removed_here(db: Any, make_tenant: Any) -> None:
    tenant = make_tenant(country="GB")
    assert _mobiles(db, tenant, {"A": "07911 123456"}) == {"A": "+447911123456"}
    assert _mobiles(db, tenant, {"A": None}) == {"A": None}
