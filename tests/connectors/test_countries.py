"""Free-text countries (platform addresses) to ISO 3166 alpha-2: codes, names in English and other languages,
common abbreviations; junk is None, never a guess."""

from __future__ import annotations

import pytest

from connectors.countries import country_code


@pytest.mark.parametrize(("text", "code"), [
    # ISO codes, alpha-2 and alpha-3, any case
    ("GB", "GB"), ("de", "DE"), ("DEU", "DE"), ("nld", "NL"), ("usa", "US"),
    # English names, official and common
    ("United Kingdom", "GB"), ("Germany", "DE"), ("Federal Republic of Germany", "DE"), ("South Korea", "KR"),
    ("Korea, Republic of", "KR"), ("United States", "US"), ("  new   zealand ", "NZ"),
    # what people write
    ("UK", "GB"), ("U.K.", "GB"), ("England", "GB"), ("U.S.A", "US"), ("Holland", "NL"), ("the Netherlands", "NL"),
    # the name in the country's own or another language, with or without its accents
    ("Deutschland", "DE"), ("Duitsland", "DE"), ("Allemagne", "DE"), ("Nederland", "NL"), ("España", "ES"),
    ("Espana", "ES"), ("Österreich", "AT"), ("Schweiz", "CH"), ("Suisse", "CH"), ("Éire", "IE"), ("México", "MX"),
    # junk and non-countries
    ("", None), ("   ", None), (None, None), ("N/A", None), ("-", None), ("12345", None), ("Narnia", None),
    ("XX", None), ("EU", None), ("Europe", None), ("London", None),
])
def test_country_code(text: str | None, code: str | None) -> None:
    assert country_code(text) == code
