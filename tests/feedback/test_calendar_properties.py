"""Properties of business time that must hold for any start and any amount."""

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.feedback.calendars_fixtures import LONDON, SHANGHAI, always_open_in, china_office, office

CALENDARS = {
    "cn-office": (china_office(), SHANGHAI),
    "london-office": (office(time_zone="Europe/London"), LONDON),
    "london-24x7": (always_open_in("Europe/London"), LONDON),
}
THIRTY_WORKDAYS = 30 * 27_000


def utc(moment: datetime) -> datetime:
    # Python compares two datetimes of one zone by wall time, ignoring fold, so an instant in
    # London's repeated autumn hour can look earlier than one before it: compare in UTC.
    return moment.astimezone(timezone.utc)


class Case(tuple):
    """(calendar, start), shown by the calendar's name when hypothesis reports a failure."""

    def __repr__(self) -> str:
        return f"({self[0].name!r}, {self[1]!r})"


@st.composite
def calendar_and_start(draw):
    calendar, zone = CALENDARS[draw(st.sampled_from(sorted(CALENDARS)))]
    start = draw(
        st.datetimes(
            min_value=datetime(2025, 1, 1),
            max_value=datetime(2026, 9, 30),
            timezones=st.just(zone),
            allow_imaginary=False,
        )
    )
    return Case((calendar, start))


seconds = st.integers(min_value=0, max_value=THIRTY_WORKDAYS)


@settings(max_examples=300, deadline=None)
@given(calendar_and_start(), seconds)
def test_the_business_time_between_a_start_and_its_deadline_is_the_target(case, target):
    calendar, start = case
    assert calendar.business_seconds_between(start, calendar.add_business_time(start, target)) == target


@settings(max_examples=200, deadline=None)
@given(calendar_and_start(), seconds, seconds)
def test_a_longer_target_never_gives_an_earlier_deadline(case, a, b):
    calendar, start = case
    shorter, longer = sorted((a, b))
    assert utc(calendar.add_business_time(start, shorter)) <= utc(calendar.add_business_time(start, longer))


@settings(max_examples=200, deadline=None)
@given(calendar_and_start(), st.integers(0, 40 * 86_400), st.integers(0, 40 * 86_400))
def test_a_later_end_never_counts_less_business_time(case, a, b):
    calendar, start = case
    near, far = sorted((a, b))
    near_end, far_end = utc(start) + timedelta(seconds=near), utc(start) + timedelta(seconds=far)
    assert calendar.business_seconds_between(start, near_end) <= calendar.business_seconds_between(start, far_end)


@settings(max_examples=200, deadline=None)
@given(calendar_and_start(), st.integers(0, 40 * 86_400), seconds)
def test_a_later_start_never_gives_an_earlier_deadline(case, delay, target):
    calendar, start = case
    later = utc(start) + timedelta(seconds=delay)  # wall-clock arithmetic would drop the fold
    assert utc(calendar.add_business_time(start, target)) <= utc(calendar.add_business_time(later, target))


@settings(max_examples=200, deadline=None)
@given(calendar_and_start(), seconds)
def test_a_deadline_is_never_before_its_start_and_is_reached_again_from_its_midpoint(case, target):
    calendar, start = case
    due = calendar.add_business_time(start, target)
    half = calendar.add_business_time(start, target // 2)
    assert utc(start) <= utc(half) <= utc(due)
    assert calendar.add_business_time(half, target - target // 2) == due
