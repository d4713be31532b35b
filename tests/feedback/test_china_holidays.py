"""The calendar's China days (from the holidays package) agree with chinesecalendar, day by day."""

from datetime import date, timedelta

import chinese_calendar

from tests.feedback.calendars_fixtures import china_office


def every_day(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def test_every_day_of_2024_to_2026_is_open_exactly_when_chinesecalendar_calls_it_a_workday():
    calendar = china_office()
    disagreements = [
        day for day in every_day(date(2024, 1, 1), date(2026, 12, 31))
        if bool(calendar.hours_on(day)) != chinese_calendar.is_workday(day)
    ]
    assert disagreements == []


def test_every_adjusted_working_day_of_2024_to_2026_is_a_weekend_day_that_opens():
    calendar = china_office()
    adjusted = [
        day for day in every_day(date(2024, 1, 1), date(2026, 12, 31))
        if day.weekday() >= 5 and chinese_calendar.is_workday(day)
    ]
    assert len(adjusted) >= 15  # several 调休 days a year; none of them may be missed
    assert all(calendar.hours_on(day) == calendar.weekly[0] for day in adjusted)
