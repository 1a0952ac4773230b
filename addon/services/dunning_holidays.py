"""Public holidays for dunning: which country's (and region's) holidays stop reminders, as the lookup the
pure engine takes (``DunningSettings.holidays``).

The region is a dunning setting (``holiday_country`` / ``holiday_subdivision`` in the default policy's
options). An admin's setting always wins, an empty country included ("no holidays"). Until an admin sets
it (the stored country is missing or None), the default is the organisation's country as the platform
reports it (``tenants.country``, read at each full sync: Xero ``Organisation.CountryCode``, QBO
``CompanyInfo.Country``), else a guess from the tenant's timezone (IANA ``zone.tab``: Europe/London -> GB,
Europe/Amsterdam -> NL); a timezone without a country (UTC) means no holidays.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import holidays

from connectors.countries import tzdata_rows

COUNTRY = "holiday_country"  # option names in the default policy's options
SUBDIVISION = "holiday_subdivision"


@functools.cache
def _zone_countries() -> dict[str, str]:
    """IANA zone name -> ISO 3166 country code, from ``zone.tab``."""
    return {row[2]: row[0] for row in tzdata_rows("zone.tab") if len(row) >= 3}


def country_for_timezone(timezone: str) -> str | None:
    """The country an IANA timezone belongs to (None for UTC and other country-less zones)."""
    return _zone_countries().get(timezone)


@dataclass(frozen=True)
class HolidayRegion:
    """The region whose holidays apply, and where it came from (shown on the settings page)."""

    country: str | None
    subdivision: str | None
    source: str  # SET_BY_ADMIN | FROM_PLATFORM | FROM_TIMEZONE


SET_BY_ADMIN, FROM_PLATFORM, FROM_TIMEZONE = "setting", "platform", "timezone"


def resolve_region(options: Mapping[str, Any], timezone: str, platform_country: str | None = None) -> HolidayRegion:
    """The stored region if an admin set one (an empty country: no holidays), else the platform's country
    of the organisation, else the timezone's country. A default has no subdivision: a region only means
    something for the country it was chosen with."""
    stored = options.get(COUNTRY)
    if stored is not None:
        country = str(stored).strip().upper() or None
        subdivision = str(options.get(SUBDIVISION) or "").strip().upper() or None
        return HolidayRegion(country, subdivision if country else None, SET_BY_ADMIN)
    platform = str(platform_country or "").strip().upper() or None
    if platform is not None:
        return HolidayRegion(platform, None, FROM_PLATFORM)
    return HolidayRegion(country_for_timezone(timezone), None, FROM_TIMEZONE)


def holiday_region(options: Mapping[str, Any], timezone: str,
                   platform_country: str | None = None) -> tuple[str | None, str | None]:
    """(country, subdivision) whose holidays apply (see ``resolve_region``)."""
    region = resolve_region(options, timezone, platform_country)
    return region.country, region.subdivision


PLATFORM_NAMES = {"xero": "Xero", "qbo": "QuickBooks"}


def region_source(region: HolidayRegion, timezone: str, platform: str) -> str:
    """Where the region came from, in words for the settings page."""
    name = f"{region.country}{'-' + region.subdivision if region.subdivision else ''}"
    if region.source == SET_BY_ADMIN:
        return f"{name}, set by an admin" if region.country else "none, set by an admin"
    if region.source == FROM_PLATFORM:
        return f"{name}, the organisation's country in {PLATFORM_NAMES.get(platform, 'the accounting platform')}"
    if region.country:
        return f"{name}, the country of the timezone {timezone} (the platform has not said where the " \
               "organisation is yet)"
    return f"none: the timezone {timezone} has no country (the platform has not said where the organisation is yet)"


def region_error(country: str | None, subdivision: str | None) -> tuple[str, str] | None:
    """(field, message) when the ``holidays`` package does not know the country or its subdivision."""
    if country is None:
        return ("holiday_subdivision", "set a country first") if subdivision else None
    if country not in holidays.list_supported_countries():
        return "holiday_country", f"unknown country code {country!r} (use ISO 3166, e.g. GB, NL, US; empty = none)"
    known = holidays.country_holidays(country).subdivisions
    if subdivision and subdivision not in known:
        listed = ", ".join(known) if known else "none"
        return "holiday_subdivision", f"{country} has no subdivision {subdivision!r} (known: {listed})"
    return None


def holiday_lookup(country: str | None, subdivision: str | None) -> Callable[[date], str | None] | None:
    """``day -> holiday name or None`` for the region, or None when no holidays apply (or the stored
    region is not one the package knows: reminders are not stopped by a typo, and the page shows the error)."""
    if country is None or region_error(country, subdivision) is not None:
        return None
    # Years are filled in lazily (expand=True) as the planner asks, so any "now" works.
    calendar = holidays.country_holidays(country, subdiv=subdivision)

    def lookup(day: date) -> str | None:
        return calendar.get(day)

    return lookup


def home_countries(options: Mapping[str, Any], timezone: str, platform_country: str | None) -> frozenset[str]:
    """The organisation's own country: its holiday region's, and where the platform (else the timezone) says it
    is. A customer there follows the organisation's region (an admin's subdivision, or "none"), not a second
    nationwide calendar."""
    region = resolve_region(options, timezone, platform_country)
    where = str(platform_country or "").strip().upper() or country_for_timezone(timezone)
    return frozenset(c for c in (region.country, where) if c)


def customer_holiday_lookups(countries: Iterable[str | None], home: Collection[str]
                             ) -> dict[str, Callable[[date], str | None]]:
    """Country -> ``day -> holiday name or None`` for the customers' countries: nationwide holidays (the mirror
    keeps no subdivision), none for the organisation's own country (``home_countries``) or a country the
    ``holidays`` package has no calendar for (then only the organisation's holidays apply, as for an unknown
    country)."""
    out: dict[str, Callable[[date], str | None]] = {}
    for country in {c for c in countries if c and c not in home}:
        lookup = holiday_lookup(country, None)
        if lookup is not None:
            out[country] = lookup
    return out
