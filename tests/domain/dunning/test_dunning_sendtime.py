"""Send-time learner: the local weekday/hour after which payments tend to follow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from addon.domain.dunning import ReminderOutcome, SendSlot, learn_send_slots


def outcome(customer: str, sent: datetime, paid_after_days: float | None) -> ReminderOutcome:
    paid = sent + timedelta(days=paid_after_days) if paid_after_days is not None else None
    return ReminderOutcome(customer, sent, paid)


def weeks(start: datetime, n: int) -> list[datetime]:
    return [start + timedelta(weeks=i) for i in range(n)]


TUE_10_UTC = datetime(2026, 6, 2, 10, tzinfo=UTC)  # Tuesday, 11:00 in London (BST)
FRI_16_UTC = datetime(2026, 6, 5, 16, tzinfo=UTC)  # Friday, 17:00 in London


def test_learns_the_slot_that_is_followed_by_payment():
    rows = [outcome("C1", t, 2) for t in weeks(TUE_10_UTC, 4)] + \
           [outcome("C1", t, None) for t in weeks(FRI_16_UTC, 4)]
    slots = learn_send_slots(rows, {"C1": "Europe/London"}, "Europe/London")
    assert slots == {"C1": SendSlot(weekday=1, hour=11)}  # local time, not UTC


def test_payment_long_after_the_reminder_does_not_count():
    rows = [outcome("C1", t, 20) for t in weeks(TUE_10_UTC, 4)] + \
           [outcome("C1", t, 1) for t in weeks(FRI_16_UTC, 4)]
    assert learn_send_slots(rows, {}, "Europe/London") == {"C1": SendSlot(weekday=4, hour=17)}


def test_too_little_evidence_falls_back_to_tenant_default():
    rows = [outcome("C1", t, 1) for t in weeks(TUE_10_UTC, 2)]
    assert learn_send_slots(rows, {}, "Europe/London") == {}


def test_hour_only_when_weekdays_are_scattered():
    starts = [datetime(2026, 6, d, 7, tzinfo=UTC) for d in (1, 2, 3, 4, 8, 9)]  # 08:00 London, Mon-Thu
    rows = [outcome("C1", t, 1) for t in starts]
    assert learn_send_slots(rows, {}, "Europe/London") == {"C1": SendSlot(weekday=None, hour=8)}


def test_customer_that_never_pays_after_reminders_has_no_slot():
    rows = [outcome("C1", t, None) for t in weeks(TUE_10_UTC, 6)]
    assert learn_send_slots(rows, {}, "Europe/London") == {}


def test_customers_are_learned_separately_in_their_own_zone():
    rows = [outcome("NY", t, 1) for t in weeks(TUE_10_UTC, 3)] + [outcome("LDN", t, 1) for t in weeks(TUE_10_UTC, 3)]
    slots = learn_send_slots(rows, {"NY": "America/New_York", "LDN": "Europe/London"}, "Europe/London")
    assert slots == {"NY": SendSlot(1, 6), "LDN": SendSlot(1, 11)}
