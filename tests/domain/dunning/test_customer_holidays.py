"""A reminder lands on neither the organisation's public holidays nor the customer's country's."""

from __future__ import annotations

from datetime import UTC, date, datetime

from addon.domain.dunning import DunningSettings, default_policy, plan_reminders
from addon.domain.dunning.planner import with_customer_holidays
from tests.domain.dunning.conftest import invoice

NOW = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)  # Wednesday 06:00 in London
GERMAN = {date(2026, 11, 18): "Buß- und Bettag", date(2026, 11, 19): "Tag X"}.get
UK = {date(2026, 11, 20): "Made-up Bank Holiday"}.get


def _send_at(customer, **settings):  # type: ignore[no-untyped-def]
    [action] = plan_reminders([invoice(8)], [customer], default_policy(), [], NOW, DunningSettings(**settings))
    return action


def test_a_customer_country_holiday_is_skipped_like_the_organisation_s(make_customer) -> None:
    german = make_customer(country="DE", holidays=GERMAN)
    action = _send_at(german, holidays=UK)
    # Wednesday and Thursday are German holidays, Friday a UK one: Monday 09:00 London.
    assert action.send_at == datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert ("public holiday skipped: 2026-11-18 Buß- und Bettag (DE, the customer's country), 2026-11-19 Tag X "
            "(DE, the customer's country), 2026-11-20 Made-up Bank Holiday") in action.reason


def test_a_customer_without_a_holiday_calendar_follows_the_organisation_only(make_customer) -> None:
    assert _send_at(make_customer(country="DE"), holidays=UK).send_at == datetime(2026, 11, 18, 9, tzinfo=UTC)
    assert _send_at(make_customer(), holidays=UK).send_at == datetime(2026, 11, 18, 9, tzinfo=UTC)


def test_customer_holidays_count_only_with_business_days_only(make_customer) -> None:
    german = make_customer(country="DE", holidays=GERMAN)
    action = _send_at(german, holidays=UK, business_days_only=False)
    assert action.send_at == datetime(2026, 11, 18, 9, tzinfo=UTC)


def test_the_organisation_s_name_wins_on_a_shared_day(make_customer) -> None:
    both = with_customer_holidays(DunningSettings(holidays={date(2026, 12, 25): "Christmas Day"}.get),
                                  make_customer(country="DE", holidays={date(2026, 12, 25): "Weihnachten"}.get))
    assert both.holiday(date(2026, 12, 25)) == "Christmas Day"
    assert with_customer_holidays(DunningSettings(), make_customer(country="DE", holidays=GERMAN)).holiday(
        date(2026, 11, 18)) == "Buß- und Bettag (DE, the customer's country)"
