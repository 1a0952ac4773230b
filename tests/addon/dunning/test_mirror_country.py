"""The mirror keeps each customer's country (ISO 3166 from the platform's address); a removed one is removed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from addon.domain.types import Contact
from addon.models import Customer
from addon.services import sync


def _countries(db: Any, tenant: Any, countries: dict[str, str | None]) -> dict[str, str | None]:
    sync.Mirror(db, tenant).upsert_contacts([Contact(remote_id=k, name=k, country=v) for k, v in countries.items()])
    return {r.remote_id: r.country for r in db.scalars(select(Customer).where(Customer.tenant_id == tenant.id))}


def test_the_customer_s_country_is_mirrored_and_follows_the_platform(db: Any, make_tenant: Any) -> None:
    tenant = make_tenant(country="GB")
    assert _countries(db, tenant, {"A": "DE", "B": None}) == {"A": "DE", "B": None}
    assert _countries(db, tenant, {"A": None, "B": "NL"}) == {"A": None, "B": "NL"}
