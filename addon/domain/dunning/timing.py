"""When a reminder goes out: learned send slot, quiet hours and business days in the customer's
timezone, and the per-customer frequency cap over a rolling window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from addon.domain.dunning.model import DunningSettings, SendSlot

# Quiet hours, weekends and holidays settle in a handful of moves (a week of holidays, e.g. Golden Week,
# takes one per day); the bound only guards a misconfiguration.
_MAX_STEPS = 40


def customer_zone(name: str | None, settings: DunningSettings) -> tuple[ZoneInfo, str]:
    """The customer's timezone (tenant default when unknown or invalid) and a note when we fell back."""
    if name:
        try:
            return ZoneInfo(name), ""
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(settings.timezone), f"unknown timezone {name!r}, used {settings.timezone}"
    return ZoneInfo(settings.timezone), ""


def in_quiet_hours(local: time, start: time, end: time) -> bool:
    """True inside [start, end); the window may wrap past midnight (20:00-08:00)."""
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def plan_send_time(now: datetime, zone: ZoneInfo, settings: DunningSettings, slot: SendSlot | None,
                   recent: Sequence[datetime]) -> tuple[datetime, list[str]]:
    """The UTC send time for a reminder planned at ``now`` and the reasons it is not ``now``."""
    notes: list[str] = []
    local_now = now.astimezone(zone)
    hour = slot.hour if slot is not None else settings.send_hour
    candidate = _preferred(local_now, zone, settings, slot, notes)
    candidate = _allowed(candidate, zone, settings, notes, hour)
    if not _fits(candidate, recent, settings):
        for option in _cap_options(candidate, recent, settings):
            moved = _allowed(option.astimezone(zone), zone, settings, [], hour)
            if _fits(moved, recent, settings):
                notes.append(f"frequency cap: {settings.frequency_cap} reminders per "
                             f"{settings.frequency_window.days} days, deferred to "
                             f"{moved.strftime('%a %Y-%m-%d %H:%M %Z')}")
                candidate = moved
                break
    return candidate.astimezone(UTC), notes


def next_allowed_time(now: datetime, zone: ZoneInfo, settings: DunningSettings) -> datetime:
    """The first UTC moment at or after ``now`` that quiet hours and business days in ``zone`` allow
    a reminder (``now`` itself when they allow it already)."""
    return _allowed(now.astimezone(zone), zone, settings, [], settings.send_hour).astimezone(UTC)


def _at(day: datetime, hour: int, zone: ZoneInfo) -> datetime:
    # Round-trip through UTC so a wall time that does not exist (spring-forward) becomes a real instant.
    naive = datetime.combine(day.date(), time(hour))
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


def _preferred(local_now: datetime, zone: ZoneInfo, settings: DunningSettings, slot: SendSlot | None,
               notes: list[str]) -> datetime:
    hour = slot.hour if slot is not None else settings.send_hour
    if slot is not None and slot.weekday is not None:
        ahead = (slot.weekday - local_now.weekday()) % 7
        target = _at(local_now + timedelta(days=ahead), hour, zone)
        if target < local_now:
            target = _at(local_now + timedelta(days=7), hour, zone)
        if target - local_now <= settings.max_slot_wait:
            notes.append(f"learned send slot: {target.strftime('%A')} {hour:02d}:00")
            return target
    elif slot is not None:
        notes.append(f"learned send hour: {hour:02d}:00")
    today_at = _at(local_now, hour, zone)
    # A run that starts before the send hour waits for it; a late (catch-up) run sends right away.
    return today_at if local_now < today_at else local_now


def _allowed(local: datetime, zone: ZoneInfo, settings: DunningSettings, notes: list[str],
             hour: int) -> datetime:
    """Move forward out of quiet hours (to their end), weekends (to Monday at the send hour) and public
    holidays (to the next day at the send hour)."""
    original = local
    holidays: dict[date, str] = {}
    for _ in range(_MAX_STEPS):
        if settings.business_days_only and local.weekday() >= 5:
            local = _at(local + timedelta(days=7 - local.weekday()), hour, zone)
            continue
        holiday = settings.holiday(local.date())
        if holiday is not None:
            holidays[local.date()] = holiday
            local = _at(local + timedelta(days=1), hour, zone)
            continue
        if in_quiet_hours(local.timetz().replace(tzinfo=None), settings.quiet_start, settings.quiet_end):
            day = local if local.time() < settings.quiet_end else local + timedelta(days=1)
            local = _at(day, settings.quiet_end.hour, zone).replace(minute=settings.quiet_end.minute)
            continue
        break
    if holidays:
        notes.append("public holiday skipped: " + ", ".join(f"{d.isoformat()} {n}" for d, n in holidays.items()))
    if local != original:
        notes.append(f"quiet hours/business days: moved to {local.strftime('%a %Y-%m-%d %H:%M %Z')}")
    return local


def upcoming_holidays(settings: DunningSettings, start: date, days: int) -> list[tuple[date, str]]:
    """The public holidays that stop reminders in ``days`` days from ``start`` (for the settings page)."""
    found = ((start + timedelta(days=n), settings.holiday(start + timedelta(days=n))) for n in range(days))
    return [(day, name) for day, name in found if name is not None]


def _fits(candidate: datetime, recent: Sequence[datetime], settings: DunningSettings) -> bool:
    """True when adding ``candidate`` keeps every rolling window at or under the cap.

    Reminders already queued for later count too: a run may have scheduled one for Monday morning.
    """
    cap, window = settings.frequency_cap, settings.frequency_window
    if cap <= 0:
        return True
    times = sorted([*recent, candidate])
    k = times.index(candidate)
    # Any cap+1 consecutive reminders that include the candidate must span at least a full window.
    return all(times[i + cap] - times[i] >= window
               for i in range(max(0, k - cap), min(k, len(times) - cap - 1) + 1))


def _cap_options(candidate: datetime, recent: Sequence[datetime],
                 settings: DunningSettings) -> list[datetime]:
    """Times at which a reminder drops out of the window: the only places the answer can change."""
    step = settings.frequency_window + timedelta(seconds=1)
    return sorted(t + step for t in recent if t + step > candidate)
