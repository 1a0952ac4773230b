"""Public holidays for dunning: which country's (and region's) holidays stop reminders, as the lookup the
pure engine takes (``DunningSettings.holidays``).

Neither platform mirror carries the organisation's country, so it is a dunning setting
(``holiday_country`` / ``holiday_subdivision`` in the default policy's options). Until an admin sets it,
the country is the one the tenant's timezone belongs to (IANA ``zone.tab``: Europe/London -> GB,
Europe/Amsterdam -> NL); a timezone without a country (UTC) means no holidays.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import holidays

COUNTRY = "holiday_country"  # option names in the default policy's options
SUBDIVISION = "holiday_subdivision"


@functools.cache
def _zone_countries() -> dict[str, str]:
    """IANA zone name -> ISO 3166 country code, from ``zone.tab`` (the tzdata package, else the system's)."""
    try:
        text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        system = Path("/usr/share/zoneinfo/zone.tab")
        text = system.read_text(encoding="utf-8") if system.exists() else ""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            if len(parts) >= 3:
                out[parts[2]] = parts[0]
    return out


def country_for_timezone(timezone: str) -> str | None:
    """The country an IANA timezone belongs to (None for UTC and other country-less zones)."""
    return _zone_countries().get(timezone)


def holiday_region(options: Mapping[str, Any], timezone: str) -> tuple[str | None, str | None]:
    """(country, subdivision) whose holidays apply. An empty stored country means "no holidays"; a missing
    one means the timezone's country."""
    if COUNTRY in options:
        country = str(options.get(COUNTRY) or "").strip().upper() or None
    else:
        country = country_for_timezone(timezone)
    subdivision = str(options.get(SUBDIVISION) or "").strip().upper() or None
    return country, subdivision if country else None


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
