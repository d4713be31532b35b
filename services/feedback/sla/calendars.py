"""Business calendars: when a team is open, and how much open time lies between two instants.

Hours are local wall-clock intervals in the calendar's zone. Each local year is turned once into
sorted arrays of open intervals in epoch microseconds with their running sums, so a deadline is
two bisections instead of a walk through days (and never a walk through minutes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_data
import numpy as np

from services.feedback.sla.timelines import Span, YearTimeline

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_SECONDS = 86_400
US_PER_SECOND = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_US = timedelta(microseconds=1)
_MEAN_YEAR_US = 31_556_952 * US_PER_SECOND  # 365.2425 days
# No SLA target is anywhere near this; the bound keeps a mistaken huge one from walking
# thousands of years of calendar before it fails.
MAX_BUSINESS_SECONDS = 10 * 366 * DAY_SECONDS

Interval = tuple[int, int]  # seconds after local midnight, end exclusive, end may be 86,400


class CalendarError(ValueError):
    """A calendar that cannot be built, or a computation it must refuse rather than guess."""


@dataclass(frozen=True)
class HolidayRule:
    country: str
    observe_makeup_workdays: bool = True
    makeup_workday_hours: int = 0  # weekday index whose hours an adjusted working day gets
    subdivision: str | None = None  # e.g. "ENG": the UK-wide list lacks England's Easter Monday


@dataclass
class _CalendarCache:
    """Derived data of one calendar version, built on first use and never changed after."""

    timelines: dict[int, YearTimeline] = field(default_factory=dict)
    new_years: dict[int, int] = field(default_factory=dict)
    spans: dict[tuple[int, int], Span] = field(default_factory=dict)


@dataclass(frozen=True)
class BusinessCalendar:
    name: str
    version: int
    time_zone: str
    weekly: tuple[tuple[Interval, ...], ...]
    holidays: HolidayRule | None = None
    exceptions: tuple[tuple[date, tuple[Interval, ...]], ...] = ()
    verified_years: frozenset[int] = frozenset()
    _cache: _CalendarCache = field(default_factory=_CalendarCache, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        zone_of(self.time_zone)
        if not any(self.weekly):
            raise CalendarError(f"calendar {self.name!r} has no open time in its weekly hours")
        if self.holidays is not None and not self.verified_years:
            raise CalendarError(f"calendar {self.name!r} uses holidays but lists no verified_years")
        if self.holidays is not None:
            _check_published(self.name, self.holidays.country, self.verified_years)
        dates = [day for day, _ in self.exceptions]
        if len(set(dates)) != len(dates):
            raise CalendarError(f"calendar {self.name!r} lists an exception date twice")

    @classmethod
    def from_dict(cls, d: dict) -> BusinessCalendar:
        return calendar_from_dict(d)

    def to_dict(self) -> dict:
        return calendar_to_dict(self)

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.time_zone)

    def hours_on(self, day: date) -> tuple[Interval, ...]:
        """Local open intervals of one date: exception, else holiday, else makeup day, else weekly."""
        for exception_day, hours in self.exceptions:
            if exception_day == day:
                return hours
        rule = self.holidays
        if rule is not None:
            days_off, makeup_days = _holiday_sets(rule.country, rule.subdivision, self._verified_year(day.year))
            if day in days_off:
                return ()
            if day in makeup_days:
                return self.weekly[rule.makeup_workday_hours] if rule.observe_makeup_workdays else ()
        return self.weekly[day.weekday()]

    def add_business_time(self, start: datetime, seconds: float) -> datetime:
        """The earliest instant at which `seconds` of open time have passed since `start`."""
        if not 0 <= seconds <= MAX_BUSINESS_SECONDS:
            raise CalendarError(f"cannot add {seconds} s of business time: it must be 0 to ten years")
        start_us, amount_us = to_epoch_us(start), round(seconds * US_PER_SECOND)
        if amount_us == 0:
            return start
        year = self._local_year(start_us)
        timeline = self._timeline(year)
        wanted = timeline.open_before(start_us) + amount_us
        while wanted > timeline.total:  # the deadline lies in a later year: skip whole years
            wanted -= timeline.total
            year += 1
            timeline = self._timeline(year)
        return from_epoch_us(timeline.instant_after_open(wanted), start.tzinfo)

    def business_seconds_between(self, start: datetime, end: datetime) -> float:
        """Open seconds in [start, end); zero when end is not after start."""
        start_us, end_us = to_epoch_us(start), to_epoch_us(end)
        if end_us <= start_us:
            return 0
        return self.business_us_between(start_us, end_us) / US_PER_SECOND

    def business_us_between(self, start_us: int, end_us: int) -> int:
        first = self._local_year(start_us)
        # The last instant counted is just before `end`, so an end at New Year needs no new year.
        last = self._local_year(end_us - 1)
        if first == last:
            timeline = self._timeline(first)
            return timeline.open_before(end_us) - timeline.open_before(start_us)
        total = self._timeline(first).total - self._timeline(first).open_before(start_us)
        total += sum(self._timeline(year).total for year in range(first + 1, last))
        return total + self._timeline(last).open_before(end_us)

    def _local_year(self, t_us: int) -> int:
        # An estimate from the epoch, corrected against cached New Year instants: this runs for
        # every deadline, and a zone conversion per call would be a third of the cost.
        year = 1970 + t_us // _MEAN_YEAR_US
        while t_us < self._new_year_us(year):
            year -= 1
        while t_us >= self._new_year_us(year + 1):
            year += 1
        return year

    def _new_year_us(self, year: int) -> int:
        new_years = self._cache.new_years
        if year not in new_years:
            new_years[year] = to_epoch_us(datetime(year, 1, 1, tzinfo=self.zone))
        return new_years[year]

    def _verified_year(self, year: int) -> int:
        if self.holidays is not None and year not in self.verified_years:
            raise CalendarError(
                f"calendar {self.name!r} is not verified for {year}: its holidays and adjusted "
                f"working days are not confirmed (verified years: {sorted(self.verified_years)})"
            )
        return year

    def _timeline(self, year: int) -> YearTimeline:
        timelines = self._cache.timelines
        if year not in timelines:
            timelines[year] = self._build_timeline(self._verified_year(year))
        return timelines[year]

    # --- many at once, on epoch microseconds (recomputing open complaints) -------------------

    def add_business_us_many(self, starts_us: np.ndarray, amounts_us: np.ndarray) -> np.ndarray:
        """add_business_time for arrays of epoch microseconds and open microseconds to add."""
        if len(starts_us) == 0:
            return starts_us.copy()
        if (amounts_us < 0).any() or (amounts_us > MAX_BUSINESS_SECONDS * US_PER_SECOND).any():
            raise CalendarError("business times to add must be 0 to ten years")
        span = self._span(self._local_year(int(starts_us.min())), self._local_year(int(starts_us.max())))
        wanted = span.open_before(starts_us) + amounts_us
        while wanted.max() > span.total:  # some deadlines lie in a later year
            span = self._span(span.first_year, span.last_year + 1)
        return np.where(amounts_us == 0, starts_us, span.instant_after_open(wanted))

    def business_us_between_many(self, starts_us: np.ndarray, end_us: int) -> np.ndarray:
        """Open microseconds in [start, end) for an array of starts and one end."""
        if len(starts_us) == 0:
            return np.zeros(0, dtype=np.int64)
        first = self._local_year(min(int(starts_us.min()), end_us - 1))
        span = self._span(first, self._local_year(max(int(starts_us.max()), end_us - 1)))
        counted = span.open_before(np.full_like(starts_us, end_us)) - span.open_before(starts_us)
        return np.maximum(counted, 0)

    def _span(self, first_year: int, last_year: int) -> Span:
        spans = self._cache.spans
        if (first_year, last_year) not in spans:
            timelines = [self._timeline(year) for year in range(first_year, last_year + 1)]
            spans[(first_year, last_year)] = Span.joining(first_year, last_year, timelines)
        return spans[(first_year, last_year)]

    def _build_timeline(self, year: int) -> YearTimeline:
        starts, ends, cum_start, cum_end = [], [], [], []
        running = 0
        day = date(year, 1, 1)
        while day.year == year:
            for start_us, end_us in local_intervals_to_epoch(day, self.hours_on(day), self.zone):
                starts.append(start_us)
                ends.append(end_us)
                cum_start.append(running)
                running += end_us - start_us
                cum_end.append(running)
            day += timedelta(days=1)
        return YearTimeline(starts, ends, cum_start, cum_end)


def local_intervals_to_epoch(day: date, hours: tuple[Interval, ...], zone: ZoneInfo):
    """Each local interval as epoch microseconds; a wall time skipped by DST takes the earlier offset."""
    for start, end in hours:
        start_us = to_epoch_us(_local_instant(day, start, zone))
        end_us = to_epoch_us(_local_instant(day, end, zone))
        if end_us > start_us:  # an interval inside a DST gap holds no time at all
            yield start_us, end_us


def _local_instant(day: date, seconds: int, zone: ZoneInfo) -> datetime:
    if seconds == DAY_SECONDS:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    hour, rest = divmod(seconds, 3600)
    return datetime.combine(day, time(hour, rest // 60, rest % 60), tzinfo=zone)


def to_epoch_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise CalendarError(f"naive datetime {moment.isoformat()} refused: give a time zone")
    try:
        return (moment - _EPOCH) // _ONE_US
    except TypeError as error:  # a tzinfo that gives no offset is as naive as none
        raise CalendarError(f"naive datetime {moment.isoformat()} refused: give a time zone") from error


def from_epoch_us(t_us: int, tz) -> datetime:
    return (_EPOCH + timedelta(microseconds=t_us)).astimezone(tz)


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise CalendarError(f"unknown time zone {name!r}") from error


_HOLIDAY_SETS: dict[tuple[str, str | None, int], tuple[frozenset[date], frozenset[date]]] = {}


def _holiday_sets(country: str, subdivision: str | None, year: int) -> tuple[frozenset[date], frozenset[date]]:
    """Days off (public holidays, incl. days moved by 调休) and adjusted working days of a year."""
    key = (country, subdivision, year)
    if key not in _HOLIDAY_SETS:
        try:
            source = holiday_data.country_holidays(country, subdiv=subdivision, years=year)
        except NotImplementedError as error:
            raise CalendarError(f"no holiday data for {country!r} subdivision {subdivision!r}") from error
        makeup = {day for day in source.weekend_workdays if day.year == year}
        days_off = {day for day in source if day.year == year}
        _HOLIDAY_SETS[key] = (frozenset(days_off), frozenset(makeup))
    return _HOLIDAY_SETS[key]


# Countries whose days off and adjusted working days are set by a yearly notice that the
# holidays package keeps per year; elsewhere its rules cover every year alike.
_YEARLY_NOTICE_COUNTRIES = {"CN"}


def _check_published(name: str, country: str, years: frozenset[int]) -> None:
    """A year cannot be verified before the holiday data holds its published notice.

    For China the package keeps each year's State Council notice (days off moved, 调休 working
    days) by year; a year without one holds only estimated holidays and no adjusted days.
    """
    if country not in _YEARLY_NOTICE_COUNTRIES:
        return
    published = holiday_data.country_holidays(country).special_public_holidays
    missing = sorted(year for year in years if year not in published)
    if missing:
        raise CalendarError(
            f"calendar {name!r} lists {missing[0]} as verified, but the holidays package has no "
            f"published holiday adjustments for {country} {missing[0]}"
        )


# --- the JSON form accepted by PUT /v1/calendars/{name} ---------------------------------------


def calendar_from_dict(d: dict) -> BusinessCalendar:
    name = d.get("name", "")
    weekly_in = d.get("weekly", {})
    unknown = set(weekly_in) - set(WEEKDAYS)
    if unknown:
        raise CalendarError(f"calendar {name!r}: unknown weekday {sorted(unknown)[0]!r}")
    weekly = tuple(parse_hours(weekly_in.get(day, []), f"{name} {day}") for day in WEEKDAYS)
    exceptions = tuple(
        (date.fromisoformat(e["date"]), parse_hours(e.get("hours", []), f"{name} {e['date']}"))
        for e in d.get("exceptions", [])
    )
    return BusinessCalendar(
        name=name,
        version=int(d.get("version", 1)),
        time_zone=d.get("time_zone", "Asia/Shanghai"),
        weekly=weekly,
        holidays=_holiday_rule_from_dict(name, d.get("holidays")),
        exceptions=exceptions,
        verified_years=frozenset(int(y) for y in d.get("verified_years", [])),
    )


def _holiday_rule_from_dict(name: str, d: dict | None) -> HolidayRule | None:
    if d is None:
        return None
    weekday = d.get("makeup_workday_hours", "mon")
    if weekday not in WEEKDAYS:
        raise CalendarError(f"calendar {name!r}: unknown weekday {weekday!r} for makeup_workday_hours")
    country, subdivision = d["country"], d.get("subdivision")
    supported = holiday_data.list_supported_countries()
    if country not in supported:
        raise CalendarError(f"calendar {name!r}: no holiday data for country {country!r}")
    if subdivision is not None and subdivision not in supported[country]:
        raise CalendarError(f"calendar {name!r}: no holiday data for {country} subdivision {subdivision!r}")
    observe = bool(d.get("observe_makeup_workdays", True))
    return HolidayRule(country, observe, WEEKDAYS.index(weekday), subdivision)


def calendar_to_dict(calendar: BusinessCalendar) -> dict:
    d = {
        "name": calendar.name,
        "version": calendar.version,
        "time_zone": calendar.time_zone,
        "weekly": {day: format_hours(h) for day, h in zip(WEEKDAYS, calendar.weekly)},
        "exceptions": [{"date": day.isoformat(), "hours": format_hours(h)} for day, h in calendar.exceptions],
        "verified_years": sorted(calendar.verified_years),
    }
    rule = calendar.holidays
    if rule is not None:
        d["holidays"] = {
            "country": rule.country,
            "observe_makeup_workdays": rule.observe_makeup_workdays,
            "makeup_workday_hours": WEEKDAYS[rule.makeup_workday_hours],
        }
        if rule.subdivision is not None:
            d["holidays"]["subdivision"] = rule.subdivision
    return d


def parse_hours(pairs: list, where: str) -> tuple[Interval, ...]:
    """Sorted local intervals; reversed, empty or overlapping ones are refused."""
    hours = sorted((parse_clock(a, where), parse_clock(b, where)) for a, b in pairs)
    for start, end in hours:
        if start >= end:
            raise CalendarError(f"{where}: interval {format_clock(start)}-{format_clock(end)} is reversed or empty")
    for (_, end), (start, _) in zip(hours, hours[1:]):
        if start < end:
            raise CalendarError(f"{where}: intervals overlap at {format_clock(start)}")
    return tuple(hours)


def parse_clock(text: str, where: str) -> int:
    try:
        hour, minute = (int(part) for part in text.split(":"))
    except ValueError as error:
        raise CalendarError(f"{where}: {text!r} is not a HH:MM time") from error
    seconds = hour * 3600 + minute * 60
    if not (0 <= minute < 60 and 0 <= seconds <= DAY_SECONDS):
        raise CalendarError(f"{where}: {text!r} is not a time between 00:00 and 24:00")
    return seconds


def format_clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def format_hours(hours: tuple[Interval, ...]) -> list[list[str]]:
    return [[format_clock(a), format_clock(b)] for a, b in hours]


ALWAYS_OPEN = calendar_from_dict(
    {"name": "24x7", "version": 1, "time_zone": "UTC", "weekly": {day: [["00:00", "24:00"]] for day in WEEKDAYS}}
)


def builtin_calendars() -> dict[str, BusinessCalendar]:
    return {ALWAYS_OPEN.name: ALWAYS_OPEN}
