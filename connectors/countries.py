"""ISO 3166 alpha-2 country codes from what a platform calls a country.

Xero gives a code (``Organisation.CountryCode``). QuickBooks' ``CompanyInfo.Country`` is documented as a
"country name" (Finance.xsd) and in practice is a code for the regional editions ("US", "CA", "GB",
"AU"), while addresses (a Xero contact's ``Addresses[].Country``, a QBO customer's ``BillAddr.Country``) hold
whatever was typed: "United States", "USA", "U.K.", "Deutschland", "the Netherlands". Names and codes are
read with ``pycountry`` (the ISO 3166-1 data of Debian's iso-codes, with its translations of the names), so an
alpha-3 code, an official or common name and a name in another language all map. Anything that cannot be
read as one real country is None: a wrong country would stop reminders on someone else's holidays.
"""

from __future__ import annotations

import functools
import gettext
import unicodedata
from importlib import resources
from pathlib import Path

import pycountry

# Names and abbreviations people write that ISO 3166 does not have ("UK" is not a code; England is no country).
_ALIASES = {"UK": "GB", "U.K.": "GB", "UNITED KINGDOM": "GB", "GREAT BRITAIN": "GB", "ENGLAND": "GB",
            "SCOTLAND": "GB", "WALES": "GB", "NORTHERN IRELAND": "GB", "BRITAIN": "GB", "USA": "US", "U.S.": "US",
            "U.S.A.": "US", "UNITED STATES OF AMERICA": "US", "AMERICA": "US", "HOLLAND": "NL"}
_ARTICLES = ("THE ", "LA ", "LE ", "DIE ", "DE ", "EL ")  # "the Netherlands", "la France"


def tzdata_rows(table: str) -> list[list[str]]:
    """The tab-separated rows of one of the IANA time zone database's tables (``iso3166.tab``,
    ``zone.tab``), comments left out: from the tzdata package, else the system's copy, else none."""
    try:
        text = resources.files("tzdata").joinpath("zoneinfo", table).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        system = Path("/usr/share/zoneinfo") / table
        text = system.read_text(encoding="utf-8") if system.exists() else ""
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


def _key(text: str) -> str:
    """What is compared: upper case, single spaces, no accents ("Österreich" and "Osterreich" alike)."""
    folded = unicodedata.normalize("NFKD", " ".join(text.split()).upper())
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def _names(country: object) -> list[str]:
    return [str(v) for v in (getattr(country, a, None) for a in ("name", "official_name", "common_name")) if v]


@functools.cache
def _countries() -> dict[str, str]:
    """Name or code (as ``_key`` writes it) -> alpha-2 code. Codes and English names first, then the common
    aliases and the IANA table's wording, then the names in every language pycountry translates them into; a
    translated name that would mean two countries is left out (unknown beats wrong), and none replaces an
    English name or a code."""
    out: dict[str, str] = {}
    for c in pycountry.countries:
        for text in (c.alpha_2, c.alpha_3, *_names(c)):
            out.setdefault(_key(text), c.alpha_2)
    for text, code in _ALIASES.items():
        out.setdefault(_key(text), code)
    for row in tzdata_rows("iso3166.tab"):
        if len(row) >= 2:
            out.setdefault(_key(row[1]), row[0].strip().upper())
    translated: dict[str, set[str]] = {}
    for language in sorted(p.name for p in Path(pycountry.LOCALES_DIR).iterdir()):
        try:
            catalog = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
        except OSError:
            continue
        for c in pycountry.countries:
            for name in _names(c):
                translated.setdefault(_key(catalog.gettext(name)), set()).add(c.alpha_2)
    for text, codes in translated.items():
        if len(codes) == 1 and text not in out:
            out[text] = next(iter(codes))
    return out


def country_code(value: object) -> str | None:
    """The ISO 3166 alpha-2 code for a code (alpha-2 or alpha-3), a common abbreviation or a country's name in
    English or another language; None for anything else (empty, junk, a region such as "EU")."""
    text = _key(str(value or "")).strip(" .,;")
    if not text:
        return None
    found = _countries().get(text) or _countries().get(_key(text.replace(".", "")))
    if found is None and text.startswith(_ARTICLES):
        found = _countries().get(text.split(" ", 1)[1])
    return found
