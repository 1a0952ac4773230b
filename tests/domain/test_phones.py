"""Phone numbers to E.164: national numbers read in the tenant's country, anything doubtful dropped."""

from __future__ import annotations

import pytest

from addon.domain.phones import to_e164


@pytest.mark.parametrize(("raw", "region", "expected"), [
    ("07911 123456", "GB", "+447911123456"),  # national UK mobile, the trunk 0 dropped
    ("+44 7911 123456", "US", "+447911123456"),  # a country code wins over the tenant's region
    ("+44 07911 123456", None, "+447911123456"),  # the trunk 0 typed after the country code
    ("(415) 555-2671", "US", "+14155552671"),
    ("415.555.2671", "us", "+14155552671"),  # region case does not matter
    ("085 123 4567", "IE", "+353851234567"),
    ("0044 7911 123456", "GB", "+447911123456"),  # the UK's international prefix
    ("+1 415 555 2671 ", "GB", "+14155552671"),
])
def test_valid_numbers_become_e164(raw: str, region: str | None, expected: str) -> None:
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize(("raw", "region"), [
    (None, "GB"), ("", "GB"), ("   ", "GB"),
    ("call the office", "GB"),  # not a number
    ("12", "GB"),  # too short to be anyone's
    ("07911 123456", None),  # national, and no country to read it in: never guessed
    ("07911 123456", "ZZ"),  # an unknown region likewise
    ("+44 7911 12", "GB"),  # incomplete
    ("555-0100", "US"),  # no area code
])
def test_doubtful_numbers_are_none(raw: str | None, region: str | None) -> None:
    assert to_e164(raw, region) is None
