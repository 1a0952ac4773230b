"""ISO 3166 alpha-2 country codes from what a platform calls a country.

Xero gives a code (``Organisation.CountryCode``). QuickBooks' ``CompanyInfo.Country`` is documented as a
"country name" (Finance.xsd) and in practice is a code for the regional editions ("US", "CA", "GB",
"AU"), while addresses hold whatever was typed ("United States", "USA", "U.K."). Anything that cannot be
read as a real code is None: a wrong country would stop reminders on someone else's holidays.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

# Names and abbreviations people write that are not in the IANA table's wording.
_ALIASES = {"UK": "GB", "U.K.": "GB", "UNITED KINGDOM": "GB", "GREAT BRITAIN": "GB", "ENGLAND": "GB",
            "SCOTLAND": "GB", "WALES": "GB", "NORTHERN IRELAND": "GB", "USA": "US", "U.S.": "US", "U.S.A.": "US",
            "UNITED STATES OF AMERICA": "US", "AUS": "AU", "CAN": "CA", "GBR": "GB", "NZL": "NZ", "IRL": "IE",
            "IND": "IN", "ZAF": "ZA"}


def tzdata_rows(table: str) -> list[list[str]]:
    """The tab-separated rows of one of the IANA time zone database's tables (``iso3166.tab``,
    ``zone.tab``), comments left out: from the tzdata package, else the system's copy, else none."""
    try:
        text = resources.files("tzdata").joinpath("zoneinfo", table).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        system = Path("/usr/share/zoneinfo") / table
        text = system.read_text(encoding="utf-8") if system.exists() else ""
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@functools.cache
def _countries() -> dict[str, str]:
    """Upper-case name -> code, and code -> code, from ``iso3166.tab``."""
    out: dict[str, str] = {}
    for row in tzdata_rows("iso3166.tab"):
        if len(row) >= 2:
            code = row[0].strip().upper()
            out[code] = code
            out[row[1].strip().upper()] = code
    return out


def country_code(value: object) -> str | None:
    """The ISO 3166 alpha-2 code for a code, a common abbreviation or an English country name; else None."""
    text = " ".join(str(value or "").split()).upper()
    if not text:
        return None
    return _ALIASES.get(text) or _countries().get(text)
