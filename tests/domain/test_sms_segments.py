"""SMS segment counting: GSM-7 160/153, UCS-2 70/67, extension characters cost two."""

from __future__ import annotations

from addon.domain.sms_segments import fit, segments


def test_segments() -> None:
    assert segments("") == 0
    assert segments("a" * 160) == 1
    assert segments("a" * 161) == 2
    assert segments("a" * 306) == 2
    assert segments("a" * 307) == 3
    assert segments("€" * 80) == 1
    assert segments("€" * 81) == 2
    assert segments("’" + "a" * 69) == 1
    assert segments("’" + "a" * 70) == 2
    assert segments("£" * 160) == 1  # £ is in the GSM alphabet


def test_fit_cuts_on_a_word_within_the_segments() -> None:
    text = " ".join(["overdue"] * 100)
    cut = fit(text, 2)
    assert segments(cut) <= 2
    assert cut.endswith("overdue...")
    assert len(cut) > 250
    assert fit("short", 1) == "short"
