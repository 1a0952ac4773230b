"""Public holidays stop reminders: the region (stored, or the timezone's country), the runs and the settings page.
Real database, real SMTP server, the `holidays` package."""

from __future__ import annotations

import re
from datetime import date

import pytest
import time_machine
from sqlalchemy import select

from addon.models import Customer, DunningPolicy, Role
from addon.services.dunning import preview, run_dunning
from addon.services.dunning_holidays import country_for_timezone, region_error
from addon.services.dunning_policies import ensure_default_policy, settings_from_options
from tests.addon.dunning.conftest import at

CHRISTMAS = date(2026, 12, 25)  # a Friday; Monday 28 December is Boxing Day (observed) in the UK


@pytest.mark.parametrize(("options", "day", "name"), [
    ({}, CHRISTMAS, "Christmas Day"),  # no region stored: Europe/London's country, GB
    ({"timezone": "Europe/Amsterdam"}, date(2026, 4, 27), "King's Day"),
    ({"holiday_country": "GB", "holiday_subdivision": "SCT"}, date(2026, 11, 30), "Saint Andrew's Day"),
    ({"holiday_country": "GB"}, date(2026, 11, 30), None),  # Scotland only
    ({"holiday_country": ""}, CHRISTMAS, None),  # stored empty: no holidays
    ({"timezone": "UTC"}, CHRISTMAS, None),  # a timezone without a country
    ({"holiday_country": "ZZ"}, CHRISTMAS, None),  # unknown (refused by the form): not a reason to stop
])
def test_the_holiday_region_comes_from_the_settings_or_the_timezone(options, day, name) -> None:
    settings = settings_from_options(options)
    assert settings.holiday(day) == name


def test_country_of_a_timezone_and_region_validation() -> None:
    assert country_for_timezone("Europe/London") == "GB"
    assert country_for_timezone("America/New_York") == "US"
    assert country_for_timezone("UTC") is None
    assert region_error("GB", "SCT") is None
    assert region_error(None, None) is None
    assert region_error("ZZ", None) == ("holiday_country", "unknown country code 'ZZ' (use ISO 3166, e.g. GB, NL, "
                                                           "US; empty = none)")
    field, message = region_error("GB", "XYZ") or ("", "")
    assert field == "holiday_subdivision"
    assert "ENG, NIR, SCT, WLS" in message
    assert region_error(None, "SCT") == ("holiday_subdivision", "set a country first")


def test_no_reminder_goes_out_on_christmas_day_and_it_follows_on_the_next_working_day(db, ledger, mailer,
                                                                                       smtp_server) -> None:
    # Both invoices (due 30 Oct) reach a stage on each day around Christmas; the runs on the holidays wait.
    for day in (CHRISTMAS, date(2026, 12, 28)):
        summary = run_dunning(db, ledger.tenant, ledger.platform, at(day), mailer)
        assert summary["later"] == 2, summary
        assert smtp_server.sink.arrived == []
    after = run_dunning(db, ledger.tenant, ledger.platform, at(date(2026, 12, 29)), mailer)
    assert "later" not in after
    assert after["awaiting_approval"] == 2  # the final notice waits for an admin, on a working day


def test_the_dry_run_names_the_holidays_it_skipped(client, ledger, sign_in) -> None:
    sign_in(ledger.tenant, Role.VIEWER)
    data = client.get(f"/api/tenants/{ledger.tenant.id}/dunning/preview?date=2026-12-25").get_json()
    assert {a["send_at"] for a in data["actions"]} == {"2026-12-29T09:00:00+00:00"}
    assert all("public holiday skipped: 2026-12-25 Christmas Day, 2026-12-28 Boxing Day (observed)" in a["reason"]
               for a in data["actions"])


def test_the_settings_page_lists_upcoming_holidays_and_validates_the_region(client, db, ledger, sign_in) -> None:
    with time_machine.travel(at(date(2026, 12, 20)), tick=False):
        sign_in(ledger.tenant)
        page = client.get(f"/tenants/{ledger.tenant.id}/dunning")
        html = page.get_data(as_text=True)
        assert 'id="holiday_country" name="holiday_country" value="GB"' in html  # the timezone's country
        assert "Public holidays skipped in the next 30 days: 2026-12-25 Christmas Day, 2026-12-26 Boxing Day, " \
               "2026-12-28 Boxing Day (observed), 2027-01-01 New Year&#39;s Day." in html
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
        form = {"timezone": "Europe/London", "send_hour": "9", "quiet_start": "20:00", "quiet_end": "08:00",
                "frequency_cap": "2", "frequency_window_days": "7", "statutory_pack": "", "reference_rates": "",
                "business_days_only": "1", "holiday_country": "gb", "holiday_subdivision": "XYZ",
                "csrf_token": token}
        bad = client.post(f"/tenants/{ledger.tenant.id}/dunning/options", data=form)
        assert bad.status_code == 422
        assert 'id="error-holiday_subdivision">GB has no subdivision &#39;XYZ&#39;' in bad.get_data(as_text=True)
        db.expire_all()
        assert "holiday_country" not in (ensure_default_policy(db, ledger.tenant).options or {})  # nothing saved
        good = client.post(f"/tenants/{ledger.tenant.id}/dunning/options",
                           data={**form, "holiday_subdivision": "sct"})
        assert good.status_code == 302
        page = client.get(f"/tenants/{ledger.tenant.id}/dunning").get_data(as_text=True)
        assert "2027-01-02 New Year Holiday" in page  # Scotland's second of January
        off = client.post(f"/tenants/{ledger.tenant.id}/dunning/options",
                          data={**form, "holiday_country": "", "holiday_subdivision": ""})
        assert off.status_code == 302
        assert "No public holidays skipped" in client.get(f"/tenants/{ledger.tenant.id}/dunning").get_data(
            as_text=True)
    db.expire_all()
    options = db.scalar(select(DunningPolicy).where(DunningPolicy.tenant_id == ledger.tenant.id)).options
    assert (options["holiday_country"], options["holiday_subdivision"]) == ("", "")


INDEPENDENCE_DAY = date(2026, 7, 3)  # observed (the 4th is a Saturday)


@pytest.mark.parametrize(("options", "platform_country", "day", "name"), [
    ({}, "US", INDEPENDENCE_DAY, "Independence Day (observed)"),  # the platform's country beats the timezone's
    ({}, "US", date(2026, 12, 28), None),  # not Boxing Day in the US
    ({"timezone": "UTC"}, "GB", CHRISTMAS, "Christmas Day"),  # a country although the timezone has none
    ({"holiday_country": None}, "US", INDEPENDENCE_DAY, "Independence Day (observed)"),  # None = the default
    ({"holiday_country": "NL"}, "US", date(2026, 4, 27), "King's Day"),  # an admin's choice wins
    ({"holiday_country": "NL"}, "US", INDEPENDENCE_DAY, None),
    ({"holiday_country": ""}, "US", INDEPENDENCE_DAY, None),  # an admin's "no holidays" wins too
    ({}, None, CHRISTMAS, "Christmas Day"),  # the platform has not said: the timezone's country (GB)
])
def test_the_default_region_is_the_platform_s_country_of_the_organisation(options, platform_country, day,
                                                                         name) -> None:
    assert settings_from_options(options, platform_country).holiday(day) == name


def test_the_run_uses_the_country_the_platform_reported(db, ledger, mailer, smtp_server) -> None:
    ledger.tenant.country = "US"  # as the full sync stores it; the tenant's timezone is Europe/London
    db.commit()
    # 28 December is Boxing Day (observed) in the UK only: the US company's reminders go out.
    summary = run_dunning(db, ledger.tenant, ledger.platform, at(date(2026, 12, 28)), mailer)
    assert "later" not in summary, summary
    assert summary["awaiting_approval"] == 2


def test_the_settings_page_says_where_the_region_came_from_and_keeps_the_default(client, db, ledger,
                                                                                 sign_in) -> None:
    ledger.tenant.country = "US"
    db.commit()
    url = f"/tenants/{ledger.tenant.id}/dunning"
    with time_machine.travel(at(date(2026, 12, 20)), tick=False):
        sign_in(ledger.tenant)
        html = client.get(url).get_data(as_text=True)
        assert 'id="holiday_country" name="holiday_country" value="US"' in html
        assert 'id="holiday_default" name="holiday_default" value="1" checked' in html
        assert "Public holidays now: US, the organisation&#39;s country in the accounting platform." in html
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
        form = {"timezone": "Europe/London", "send_hour": "9", "quiet_start": "20:00", "quiet_end": "08:00",
                "frequency_cap": "2", "frequency_window_days": "7", "statutory_pack": "", "reference_rates": "",
                "business_days_only": "1", "holiday_country": "US", "holiday_subdivision": "",
                "holiday_default": "1", "csrf_token": token}
        # Saving the other settings with the default ticked does not freeze today's default as a choice.
        assert client.post(f"{url}/options", data={**form, "send_hour": "10"}).status_code == 302
        db.expire_all()
        options = ensure_default_policy(db, ledger.tenant).options
        assert (options["send_hour"], options["holiday_country"]) == (10, None)
        ledger.tenant.country = "CA"  # the next full sync reads another country: the default follows
        db.commit()
        assert "Public holidays now: CA, the organisation&#39;s country" in client.get(url).get_data(as_text=True)
        # An admin's explicit "no holidays" wins over the platform's country.
        off = {k: v for k, v in form.items() if k != "holiday_default"} | {"holiday_country": ""}
        assert client.post(f"{url}/options", data=off).status_code == 302
        html = client.get(url).get_data(as_text=True)
        assert "Public holidays now: none, set by an admin." in html
        assert 'name="holiday_default" value="1" >' in html  # unticked
        assert "No public holidays skipped" in html
    ledger.tenant.country = None
    db.commit()
    db.expire_all()
    ensure_default_policy(db, ledger.tenant).options = {}
    db.commit()
    with time_machine.travel(at(date(2026, 12, 20)), tick=False):
        assert "Public holidays now: GB, the country of the timezone Europe/London (the platform has not said " \
               "where the organisation is yet)." in client.get(url).get_data(as_text=True)


THANKSGIVING = date(2026, 11, 26)  # a Thursday: a US holiday, a working day in the UK


def _country(db, remote_id: str, country: str | None) -> None:  # type: ignore[no-untyped-def]
    db.scalar(select(Customer).where(Customer.remote_id == remote_id)).country = country
    db.commit()


def _send_days(db, ledger, day: date) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {a["customer"]: a["send_at"][:10] for a in preview(db, ledger.tenant, day)}


def test_a_customer_s_own_public_holiday_is_skipped_too(db, ledger) -> None:
    _country(db, "C2", "US")  # Globex is in the US, mirrored from its address; the company is in the UK
    assert _send_days(db, ledger, THANKSGIVING) == {"Acme Ltd": "2026-11-26", "Globex BV": "2026-11-27"}
    [globex] = [a for a in preview(db, ledger.tenant, THANKSGIVING) if a["customer"] == "Globex BV"]
    assert "public holiday skipped: 2026-11-26 Thanksgiving Day (US, the customer's country)" in globex["reason"]
    # And the organisation's holidays still hold for it: Christmas and Boxing Day (observed) in the UK.
    assert _send_days(db, ledger, CHRISTMAS)["Globex BV"] == "2026-12-29"


@pytest.mark.parametrize("country", [None, "ZZ", "AQ"])  # unknown, not a country, no holiday calendar
def test_a_customer_country_without_holidays_leaves_the_organisation_s_only(db, ledger, country) -> None:
    _country(db, "C2", country)
    assert _send_days(db, ledger, THANKSGIVING) == {"Acme Ltd": "2026-11-26", "Globex BV": "2026-11-26"}


def test_a_customer_in_the_organisation_s_country_follows_the_admin_s_region(db, ledger) -> None:
    policy = ensure_default_policy(db, ledger.tenant)
    policy.options = {**(policy.options or {}), "holiday_country": ""}  # an admin: no holidays
    db.commit()
    _country(db, "C1", "GB")  # at home: the admin's "none" holds, not the UK's nationwide calendar
    _country(db, "C2", "US")  # abroad: its own country's holidays still apply
    assert _send_days(db, ledger, CHRISTMAS) == {"Acme Ltd": "2026-12-25", "Globex BV": "2026-12-28"}
