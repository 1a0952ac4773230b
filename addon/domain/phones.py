"""Phone numbers as the platforms hold them (free text, national or international) turned into E.164.

A number is kept only when ``phonenumbers`` says it is a valid number: a reminder texted to a guessed
number reaches a stranger, so anything unparseable or incomplete becomes None.
"""

from __future__ import annotations

import phonenumbers


def to_e164(raw: str | None, region: str | None) -> str | None:
    """``raw`` in E.164 (``+447911123456``), read in ``region`` (ISO 3166 alpha-2, the tenant's country)
    when it has no country code; None when it is empty, unparseable or not a valid number."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None  # e.g. a national number with no region to read it in
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
