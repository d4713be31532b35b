"""Calendars the feedback tests share, written as the JSON the API accepts."""

from datetime import datetime
from zoneinfo import ZoneInfo

from services.feedback.sla.calendars import BusinessCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
EVERY_DAY = (*WORKDAYS, "sat", "sun")
LUNCH_BREAK_HOURS = [["09:00", "12:00"], ["13:30", "18:00"]]  # 7.5 open hours a day
HOUR = 3600


def weekly(hours, days=WORKDAYS) -> dict:
    return {day: hours if day in days else [] for day in EVERY_DAY}


def office(hours=(("09:00", "17:00"),), time_zone="Asia/Shanghai", **extra) -> BusinessCalendar:
    return BusinessCalendar.from_dict(
        {"name": "office", "version": 1, "time_zone": time_zone, "weekly": weekly([list(h) for h in hours]), **extra}
    )


def china_office(observe_makeup_workdays=True, **extra) -> BusinessCalendar:
    """The issue's cn-office calendar: lunch break, China's holidays and 调休, verified 2024-2026."""
    return BusinessCalendar.from_dict(
        {
            "name": "cn-office",
            "version": 1,
            "time_zone": "Asia/Shanghai",
            "weekly": weekly(LUNCH_BREAK_HOURS),
            "holidays": {"country": "CN", "observe_makeup_workdays": observe_makeup_workdays, "makeup_workday_hours": "mon"},
            "verified_years": [2024, 2025, 2026],
            **extra,
        }
    )


def always_open_in(time_zone: str) -> BusinessCalendar:
    return BusinessCalendar.from_dict(
        {"name": f"24x7-{time_zone}", "version": 1, "time_zone": time_zone, "weekly": weekly([["00:00", "24:00"]], days=EVERY_DAY)}
    )


def shanghai(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def london(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON)
