"""Send time: tenant default hour, quiet hours and weekends in the customer's timezone, frequency cap."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from addon.domain.dunning import DunningSettings, SendSlot
from addon.domain.dunning.timing import (
    customer_zone,
    in_quiet_hours,
    next_allowed_time,
    plan_send_time,
    upcoming_holidays,
)

LONDON = ZoneInfo("Europe/London")
SETTINGS = DunningSettings()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("local", "quiet"), [
    (time(7, 59), True), (time(8, 0), False), (time(19, 59), False), (time(20, 0), True), (time(23, 0), True),
])
def test_quiet_hours_wrap_past_midnight(local, quiet):
    assert in_quiet_hours(local, time(20), time(8)) is quiet


def test_quiet_hours_that_do_not_wrap():
    assert in_quiet_hours(time(12, 30), time(12), time(13))
    assert not in_quiet_hours(time(13, 0), time(12), time(13))
    assert not in_quiet_hours(time(3, 0), time(5), time(5))  # empty window


@pytest.mark.parametrize(("now", "expected", "why"), [
    (utc(2026, 11, 18, 6, 0), utc(2026, 11, 18, 9, 0), ""),  # early run waits for 09:00
    (utc(2026, 11, 18, 14, 0), utc(2026, 11, 18, 14, 0), ""),  # late run sends at once
    (utc(2026, 11, 18, 21, 30), utc(2026, 11, 19, 8, 0), "quiet hours"),  # evening -> next morning
    (utc(2026, 11, 20, 22, 0), utc(2026, 11, 23, 9, 0), "quiet hours"),  # Friday night -> Monday 09:00
    (utc(2026, 11, 21, 10, 0), utc(2026, 11, 23, 9, 0), "business days"),  # Saturday -> Monday 09:00
])
def test_default_send_time_in_london(now, expected, why):
    send_at, notes = plan_send_time(now, LONDON, SETTINGS, None, ())
    assert send_at == expected
    assert why in " ".join(notes)


def test_customer_timezone_is_respected():
    sydney = ZoneInfo("Australia/Sydney")
    # 06:00 UTC Wednesday is 17:00 in Sydney: after 09:00, not quiet -> at once
    assert plan_send_time(utc(2026, 11, 18, 6), sydney, SETTINGS, None, ())[0] == utc(2026, 11, 18, 6)
    # 10:00 UTC is 21:00 in Sydney: quiet -> 08:00 Sydney Thursday = 21:00 UTC Wednesday
    assert plan_send_time(utc(2026, 11, 18, 10), sydney, SETTINGS, None, ())[0] == utc(2026, 11, 18, 21)


def test_dst_change_is_handled():
    # 29 March 2026: clocks go forward in London; 09:00 local that day is 08:00 UTC (Sunday -> Monday)
    send_at, _ = plan_send_time(utc(2026, 3, 27, 6), LONDON, SETTINGS, None, ())
    assert send_at == utc(2026, 3, 27, 9)
    send_at, _ = plan_send_time(utc(2026, 3, 30, 5), LONDON, SETTINGS, None, ())
    assert send_at == utc(2026, 3, 30, 8)  # 09:00 BST


def test_frequency_cap_defers_until_the_window_allows():
    now = utc(2026, 11, 18, 6)
    recent = (utc(2026, 11, 13, 9), utc(2026, 11, 16, 9))  # two in the last 7 days
    send_at, notes = plan_send_time(now, LONDON, SETTINGS, None, recent)
    assert send_at >= utc(2026, 11, 20, 9)  # the 13th's reminder must leave the window first
    assert send_at < utc(2026, 11, 20, 9, 1)
    assert any("frequency cap" in n for n in notes)
    inside = [t for t in recent if send_at - timedelta(days=7) < t <= send_at]
    assert len(inside) < SETTINGS.frequency_cap


def test_one_recent_reminder_is_under_the_cap():
    send_at, notes = plan_send_time(utc(2026, 11, 18, 6), LONDON, SETTINGS, None, (utc(2026, 11, 17, 9),))
    assert send_at == utc(2026, 11, 18, 9)
    assert notes == []


def test_learned_slot_is_used_when_close_enough():
    thursday_11 = SendSlot(weekday=3, hour=11)
    send_at, notes = plan_send_time(utc(2026, 11, 18, 6), LONDON, SETTINGS, thursday_11, ())
    assert send_at == utc(2026, 11, 19, 11)
    assert "learned send slot: Thursday 11:00" in notes


def test_learned_slot_too_far_away_falls_back_to_the_hour():
    monday_11 = SendSlot(weekday=0, hour=11)  # five days away from Wednesday
    send_at, _ = plan_send_time(utc(2026, 11, 18, 6), LONDON, SETTINGS, monday_11, ())
    assert send_at == utc(2026, 11, 18, 11)


def test_unknown_timezone_falls_back_to_tenant():
    zone, note = customer_zone("Mars/Olympus", SETTINGS)
    assert zone == LONDON
    assert "unknown timezone" in note
    assert customer_zone(None, SETTINGS) == (LONDON, "")


@pytest.mark.parametrize(("now", "expected"), [
    (utc(2026, 11, 18, 14, 0), utc(2026, 11, 18, 14, 0)),  # a weekday afternoon: now
    (utc(2026, 11, 18, 21, 30), utc(2026, 11, 19, 8, 0)),  # evening: the end of quiet hours
    (utc(2026, 12, 4, 20, 0), utc(2026, 12, 7, 9, 0)),  # Friday evening: Monday at the send hour
    (utc(2026, 12, 5, 10, 0), utc(2026, 12, 7, 9, 0)),  # Saturday: Monday at the send hour
])
def test_next_allowed_time(now, expected):
    assert next_allowed_time(now, LONDON, SETTINGS) == expected


# Public holidays: the engine gets a ``day -> name`` lookup (the service builds it from the `holidays` package).
UK_CHRISTMAS = {date(2026, 12, 25): "Christmas Day", date(2026, 12, 26): "Boxing Day",
                date(2026, 12, 28): "Boxing Day (observed)"}
WITH_HOLIDAYS = DunningSettings(holidays=UK_CHRISTMAS.get)


def test_a_reminder_due_on_christmas_day_waits_for_the_next_working_day():
    # Friday 25 Dec 2026, then the weekend, then Monday 28 Dec (Boxing Day observed): Tuesday 09:00.
    send_at, notes = plan_send_time(utc(2026, 12, 25, 6), LONDON, WITH_HOLIDAYS, None, ())
    assert send_at == utc(2026, 12, 29, 9)
    text = " ".join(notes)
    assert "public holiday skipped: 2026-12-25 Christmas Day, 2026-12-28 Boxing Day (observed)" in text
    # Without the lookup the old behaviour: Christmas Day itself.
    assert plan_send_time(utc(2026, 12, 25, 6), LONDON, SETTINGS, None, ())[0] == utc(2026, 12, 25, 9)


def test_quiet_hours_into_a_holiday_move_on_to_the_next_day():
    # Thursday 24 Dec 21:00 is quiet -> Friday 08:00 is Christmas -> ... -> Tuesday 09:00.
    assert plan_send_time(utc(2026, 12, 24, 21), LONDON, WITH_HOLIDAYS, None, ())[0] == utc(2026, 12, 29, 9)


def test_holidays_only_count_when_business_days_only_is_on():
    seven_days = DunningSettings(holidays=UK_CHRISTMAS.get, business_days_only=False)
    assert plan_send_time(utc(2026, 12, 25, 6), LONDON, seven_days, None, ())[0] == utc(2026, 12, 25, 9)
    assert upcoming_holidays(seven_days, date(2026, 12, 20), 30) == []


def test_a_learned_slot_on_a_holiday_is_moved_too():
    slot = SendSlot(weekday=4, hour=14)  # Fridays 14:00; this Friday is Christmas Day
    send_at, _ = plan_send_time(utc(2026, 12, 24, 10), LONDON, WITH_HOLIDAYS, slot, ())
    assert send_at == utc(2026, 12, 29, 14)


def test_next_allowed_time_and_upcoming_holidays_skip_holidays():
    assert next_allowed_time(utc(2026, 12, 25, 12), LONDON, WITH_HOLIDAYS) == utc(2026, 12, 29, 9)
    assert upcoming_holidays(WITH_HOLIDAYS, date(2026, 12, 20), 7) == [
        (date(2026, 12, 25), "Christmas Day"), (date(2026, 12, 26), "Boxing Day")]
