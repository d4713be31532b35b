"""Business calendars: every edge case of sla.md with its answer worked out by hand."""

from datetime import date, datetime, timedelta, timezone

import pytest

from services.feedback.sla.calendars import ALWAYS_OPEN, BusinessCalendar, CalendarError
from tests.feedback.calendars_fixtures import (
    HOUR,
    LUNCH_BREAK_HOURS,
    always_open_in,
    china_office,
    london,
    office,
    shanghai,
    weekly,
)

MINUTE = 60
WORKDAY = 7.5 * HOUR  # 09:00-12:00 and 13:30-18:00


# --- hours and lunch breaks -----------------------------------------------------------------


def test_a_complaint_received_friday_1630_with_one_hour_is_due_monday_0930():
    calendar = office()
    assert calendar.add_business_time(shanghai(2026, 3, 6, 16, 30), HOUR) == shanghai(2026, 3, 9, 9, 30)


def test_half_an_hour_from_1150_skips_the_lunch_break_and_is_due_1350():
    calendar = office(hours=LUNCH_BREAK_HOURS)
    assert calendar.add_business_time(shanghai(2026, 3, 2, 11, 50), 30 * MINUTE) == shanghai(2026, 3, 2, 13, 50)


def test_a_start_outside_open_hours_begins_at_the_next_opening():
    calendar = office(hours=LUNCH_BREAK_HOURS)
    assert calendar.add_business_time(shanghai(2026, 3, 2, 12, 30), 10 * MINUTE) == shanghai(2026, 3, 2, 13, 40)
    assert calendar.add_business_time(shanghai(2026, 3, 7, 10, 0), 10 * MINUTE) == shanghai(2026, 3, 9, 9, 10)


def test_a_target_used_up_exactly_at_closing_ends_at_closing_not_at_the_next_opening():
    calendar = office()
    assert calendar.add_business_time(shanghai(2026, 3, 6, 16, 0), HOUR) == shanghai(2026, 3, 6, 17, 0)


def test_an_interval_may_end_at_2400():
    calendar = office(hours=(("22:00", "24:00"),))
    assert calendar.add_business_time(shanghai(2026, 3, 2, 23, 30), 30 * MINUTE) == shanghai(2026, 3, 3, 0, 0)
    assert calendar.business_seconds_between(shanghai(2026, 3, 2), shanghai(2026, 3, 4)) == 4 * HOUR


def test_business_seconds_count_only_open_time_in_a_half_open_range():
    calendar = office(hours=LUNCH_BREAK_HOURS)
    # Mon 11:00 to Tue 10:00: 1 h before lunch, 4.5 h after, 1 h on Tuesday.
    assert calendar.business_seconds_between(shanghai(2026, 3, 2, 11), shanghai(2026, 3, 3, 10)) == 6.5 * HOUR
    assert calendar.business_seconds_between(shanghai(2026, 3, 3, 10), shanghai(2026, 3, 2, 11)) == 0


def test_zero_business_time_is_the_start_itself():
    assert office().add_business_time(shanghai(2026, 3, 7, 3, 0), 0) == shanghai(2026, 3, 7, 3, 0)


def test_the_deadline_is_given_in_the_start_time_zone():
    due = office().add_business_time(datetime(2026, 3, 6, 8, 30, tzinfo=timezone.utc), HOUR)  # 16:30 in Shanghai
    assert due == datetime(2026, 3, 9, 1, 30, tzinfo=timezone.utc)
    assert due.tzinfo == timezone.utc


# --- China's holidays and adjusted working days (调休) ---------------------------------------


def test_the_adjusted_working_saturday_2026_02_14_has_monday_hours_and_spring_festival_is_closed():
    calendar = china_office()
    assert calendar.hours_on(date(2026, 2, 14)) == ((9 * HOUR, 12 * HOUR), (13.5 * HOUR, 18 * HOUR))
    for day in (15, 16, 17, 18, 19, 20, 21, 22, 23):
        assert calendar.hours_on(date(2026, 2, day)) == (), f"2026-02-{day} is part of the Spring Festival break"
    assert calendar.hours_on(date(2026, 2, 24)) != ()


def test_two_hours_from_friday_1700_before_spring_festival_end_on_the_working_saturday():
    # 1 h on Fri 02-13 (17-18), then Sat 02-14 is a working day: 09:00 + 1 h.
    assert china_office().add_business_time(shanghai(2026, 2, 13, 17), 2 * HOUR) == shanghai(2026, 2, 14, 10)


def test_two_hours_from_the_working_saturday_1700_jump_the_whole_spring_festival():
    # 1 h on Sat 02-14, then closed Sun 02-15 to Mon 02-23, Tue 02-24 09:00 + 1 h.
    assert china_office().add_business_time(shanghai(2026, 2, 14, 17), 2 * HOUR) == shanghai(2026, 2, 24, 10)


def test_open_time_across_spring_festival_is_three_working_days():
    # Open: Fri 02-13, Sat 02-14 (adjusted), Tue 02-24.
    between = china_office().business_seconds_between(shanghai(2026, 2, 13), shanghai(2026, 2, 25))
    assert between == 3 * WORKDAY


def test_national_day_2026_works_sunday_09_20_and_saturday_10_10_and_closes_01_to_07():
    calendar = china_office()
    assert calendar.add_business_time(shanghai(2026, 9, 18, 17), 2 * HOUR) == shanghai(2026, 9, 20, 10)
    assert calendar.add_business_time(shanghai(2026, 9, 30, 17), 2 * HOUR) == shanghai(2026, 10, 8, 10)
    assert calendar.add_business_time(shanghai(2026, 10, 9, 17), 2 * HOUR) == shanghai(2026, 10, 10, 10)
    # Open Mon-Wed 09-28..30, then Thu 10-08, Fri 10-09 and Sat 10-10; Sun 10-11 closed.
    between = calendar.business_seconds_between(shanghai(2026, 9, 28), shanghai(2026, 10, 12))
    assert between == 6 * WORKDAY


def test_with_makeup_workdays_not_observed_adjusted_weekend_days_stay_closed():
    calendar = china_office(observe_makeup_workdays=False)
    assert calendar.hours_on(date(2026, 2, 14)) == ()
    assert calendar.add_business_time(shanghai(2026, 2, 13, 17), 2 * HOUR) == shanghai(2026, 2, 24, 10)
    assert calendar.add_business_time(shanghai(2026, 9, 18, 17), 2 * HOUR) == shanghai(2026, 9, 21, 10)
    # The holidays themselves stay closed.
    assert calendar.hours_on(date(2026, 10, 1)) == ()


def test_an_adjusted_working_day_takes_the_hours_of_the_weekday_it_names():
    calendar = BusinessCalendar.from_dict(
        {
            "name": "shop",
            "time_zone": "Asia/Shanghai",
            "weekly": {**weekly(LUNCH_BREAK_HOURS), "sat": [["10:00", "14:00"]]},
            "holidays": {"country": "CN", "makeup_workday_hours": "sat"},
            "verified_years": [2026],
        }
    )
    assert calendar.hours_on(date(2026, 9, 20)) == ((10 * HOUR, 14 * HOUR),)  # a Sunday, worked as a Saturday


def test_a_date_exception_wins_over_weekly_hours_and_holidays():
    calendar = china_office(
        exceptions=[
            {"date": "2026-12-31", "hours": [["09:00", "15:00"]]},
            {"date": "2026-06-01", "hours": []},
            {"date": "2026-10-02", "hours": [["10:00", "11:00"]]},  # inside National Day
        ]
    )
    assert calendar.add_business_time(shanghai(2026, 12, 31, 14), HOUR) == shanghai(2026, 12, 31, 15)
    assert calendar.hours_on(date(2026, 6, 1)) == ()
    assert calendar.add_business_time(shanghai(2026, 9, 30, 17, 30), HOUR) == shanghai(2026, 10, 2, 10, 30)


# --- verified years ---------------------------------------------------------------------------


def test_a_target_that_crosses_into_2027_is_refused_naming_the_year():
    with pytest.raises(CalendarError, match="2027"):
        china_office().add_business_time(shanghai(2026, 12, 31, 17), 2 * HOUR)


def test_a_target_ending_at_the_last_closing_of_2026_is_not_refused():
    assert china_office().add_business_time(shanghai(2026, 12, 31, 17), HOUR) == shanghai(2026, 12, 31, 18)


def test_counting_time_into_an_unverified_year_is_refused_but_up_to_its_first_instant_is_not():
    calendar = china_office()
    with pytest.raises(CalendarError, match="2027"):
        calendar.business_seconds_between(shanghai(2026, 12, 31, 9), shanghai(2027, 1, 4, 10))
    with pytest.raises(CalendarError, match="2023"):
        calendar.business_seconds_between(shanghai(2023, 12, 29, 9), shanghai(2024, 1, 2, 10))
    assert calendar.business_seconds_between(shanghai(2026, 12, 31, 9), shanghai(2027, 1, 1)) == WORKDAY


def test_a_calendar_without_holidays_needs_no_verified_years():
    assert ALWAYS_OPEN.add_business_time(datetime(2026, 12, 31, 12, tzinfo=timezone.utc), 48 * HOUR) == datetime(
        2027, 1, 2, 12, tzinfo=timezone.utc
    )


# --- daylight saving --------------------------------------------------------------------------


def test_london_days_last_23_hours_at_the_march_change_and_25_at_the_october_change():
    calendar = always_open_in("Europe/London")
    assert calendar.business_seconds_between(london(2026, 3, 29), london(2026, 3, 30)) == 23 * HOUR
    assert calendar.business_seconds_between(london(2026, 10, 25), london(2026, 10, 26)) == 25 * HOUR


def test_a_day_of_business_time_across_london_clock_changes_ends_an_hour_off_on_the_wall():
    calendar = always_open_in("Europe/London")
    # Sat 12:00 GMT + 24 h: 12 h to midnight, then 12 real hours into a 23 h Sunday: 13:00 BST.
    assert calendar.add_business_time(london(2026, 3, 28, 12), 24 * HOUR) == london(2026, 3, 29, 13)
    # Sat 12:00 BST + 24 h: 12 h to midnight, then 12 real hours into a 25 h Sunday: 11:00 GMT.
    assert calendar.add_business_time(london(2026, 10, 24, 12), 24 * HOUR) == london(2026, 10, 25, 11)


def test_london_office_hours_stay_0900_to_1700_on_the_wall_across_both_changes():
    calendar = office(time_zone="Europe/London")
    # Fri 27 March 16:00 GMT + 2 h: 1 h on Friday, Mon 30 March 09:00 BST (08:00 UTC) + 1 h.
    spring = calendar.add_business_time(datetime(2026, 3, 27, 16, tzinfo=timezone.utc), 2 * HOUR)
    assert spring == datetime(2026, 3, 30, 9, tzinfo=timezone.utc)
    # Fri 23 October 16:00 BST (15:00 UTC) + 2 h: Mon 26 October 09:00 GMT + 1 h = 10:00 UTC.
    autumn = calendar.add_business_time(datetime(2026, 10, 23, 15, tzinfo=timezone.utc), 2 * HOUR)
    assert autumn == datetime(2026, 10, 26, 10, tzinfo=timezone.utc)
    week = calendar.business_seconds_between(london(2026, 3, 23), london(2026, 4, 6))
    assert week == 10 * 8 * HOUR


def test_hours_inside_the_skipped_spring_hour_hold_no_time():
    calendar = BusinessCalendar.from_dict(
        {"name": "night", "time_zone": "Europe/London", "weekly": weekly([["01:00", "02:00"]], days=("sun",))}
    )
    assert calendar.business_seconds_between(london(2026, 3, 28), london(2026, 3, 30)) == 0
    assert calendar.business_seconds_between(london(2026, 3, 21), london(2026, 3, 23)) == HOUR


# --- what a calendar refuses ------------------------------------------------------------------


def test_a_calendar_with_no_open_time_raises_at_once():
    with pytest.raises(CalendarError, match="no open time"):
        BusinessCalendar.from_dict({"name": "never", "time_zone": "UTC", "weekly": weekly([])})


@pytest.mark.parametrize(
    ("hours", "cause"),
    [
        ([["12:00", "09:00"]], "reversed"),
        ([["09:00", "09:00"]], "reversed or empty"),
        ([["09:00", "12:00"], ["11:00", "13:00"]], "overlap"),
        ([["09:00", "25:00"]], "between 00:00 and 24:00"),
        ([["9am", "5pm"]], "HH:MM"),
    ],
)
def test_bad_intervals_are_refused_with_their_cause(hours, cause):
    with pytest.raises(CalendarError, match=cause):
        BusinessCalendar.from_dict({"name": "bad", "time_zone": "UTC", "weekly": weekly(hours)})


def test_an_unknown_time_zone_or_weekday_is_refused():
    with pytest.raises(CalendarError, match="unknown time zone 'Mars/Olympus'"):
        office(time_zone="Mars/Olympus")
    with pytest.raises(CalendarError, match="unknown weekday 'funday'"):
        BusinessCalendar.from_dict({"name": "bad", "weekly": {"funday": [["09:00", "17:00"]]}})


def test_a_naive_datetime_is_refused():
    with pytest.raises(CalendarError, match="naive"):
        office().add_business_time(datetime(2026, 3, 2, 9), HOUR)
    with pytest.raises(CalendarError, match="naive"):
        office().business_seconds_between(shanghai(2026, 3, 2), datetime(2026, 3, 3))


def test_negative_or_absurdly_long_business_time_is_refused():
    with pytest.raises(CalendarError, match="0 to ten years"):
        office().add_business_time(shanghai(2026, 3, 2, 9), -1)
    with pytest.raises(CalendarError, match="0 to ten years"):
        ALWAYS_OPEN.add_business_time(shanghai(2026, 3, 2, 9), 1e15)


def test_the_built_in_24x7_calendar_counts_every_second():
    start = datetime(2026, 3, 2, 9, 15, 30, 250, tzinfo=timezone.utc)
    assert ALWAYS_OPEN.name == "24x7"
    assert ALWAYS_OPEN.add_business_time(start, 86_400 * 3 + 1) == start + timedelta(days=3, seconds=1)


def test_a_calendar_survives_its_json_form():
    calendar = china_office(exceptions=[{"date": "2026-12-31", "hours": [["09:00", "15:00"]]}])
    again = BusinessCalendar.from_dict(calendar.to_dict())
    assert again == calendar
    assert again.to_dict()["weekly"]["mon"] == LUNCH_BREAK_HOURS


def test_a_year_cannot_be_listed_as_verified_before_its_adjustments_are_published():
    with pytest.raises(CalendarError, match="2027 as verified, but the holidays package has no published"):
        china_office(verified_years=[2026, 2027])


def test_an_exception_date_listed_twice_is_refused():
    twice = [{"date": "2026-06-01", "hours": []}, {"date": "2026-06-01", "hours": [["09:00", "10:00"]]}]
    with pytest.raises(CalendarError, match="exception date twice"):
        china_office(exceptions=twice)


def test_less_than_a_microsecond_of_business_time_is_the_start_itself():
    assert office().add_business_time(shanghai(2026, 3, 4, 10), 1e-9) == shanghai(2026, 3, 4, 10)


def test_a_london_office_with_uk_holidays_is_closed_on_good_friday_and_boxing_day_observed():
    calendar = office(time_zone="Europe/London", holidays={"country": "GB"}, verified_years=[2026])
    assert calendar.hours_on(date(2026, 4, 3)) == ()
    assert calendar.hours_on(date(2026, 12, 28)) == ()  # Boxing Day falls on a Saturday
    # Thu 2 April 16:00 BST + 2 h: 1 h Thursday, Good Friday closed, weekend, Mon 6 April 10:00
    # (the UK-wide list has no Easter Monday; England's subdivision would add it).
    assert calendar.add_business_time(london(2026, 4, 2, 16), 2 * HOUR) == london(2026, 4, 6, 10)


def test_a_holiday_subdivision_adds_its_own_days_such_as_easter_monday_in_england():
    calendar = office(time_zone="Europe/London", holidays={"country": "GB", "subdivision": "ENG"}, verified_years=[2026])
    assert calendar.hours_on(date(2026, 4, 6)) == ()
    assert calendar.add_business_time(london(2026, 4, 2, 16), 2 * HOUR) == london(2026, 4, 7, 10)
    assert BusinessCalendar.from_dict(calendar.to_dict()) == calendar
    with pytest.raises(CalendarError, match="subdivision 'XX'"):
        office(holidays={"country": "GB", "subdivision": "XX"}, verified_years=[2026])


def test_new_year_2026_is_crossed_from_2025_with_the_working_sunday_01_04():
    calendar = china_office()
    # 1 h on Wed 2025-12-31, 1-3 January off, Sun 01-04 worked with Monday hours.
    assert calendar.add_business_time(shanghai(2025, 12, 31, 17), 2 * HOUR) == shanghai(2026, 1, 4, 10)
    # 1 h + 7.5 h on 01-04 + 1 h on Mon 01-05.
    assert calendar.business_seconds_between(shanghai(2025, 12, 31, 17), shanghai(2026, 1, 5, 10)) == 9.5 * HOUR
