"""One metric clock: pause, resume, breach, retarget and recompute, answers worked out by hand."""

from services.feedback.sla import clocks as sla_clocks
from services.feedback.sla.clocks import MetricClock
from tests.feedback.calendars_fixtures import HOUR, LUNCH_BREAK_HOURS, china_office, office, shanghai

MINUTE = 60


def paused_between(calendar, target, started, paused, resumed) -> MetricClock:
    clock = sla_clocks.start_clock("resolution", target, calendar, started)
    return sla_clocks.resume(sla_clocks.pause(clock, calendar, paused), calendar, resumed)


def test_a_pause_across_a_night_freezes_consumed_time_and_resume_lays_the_rest_from_now():
    calendar = china_office()  # 09-12, 13:30-18
    clock = sla_clocks.start_clock("resolution", 2 * HOUR, calendar, shanghai(2026, 3, 2, 17))
    clock = sla_clocks.pause(clock, calendar, shanghai(2026, 3, 2, 17, 30))
    assert (clock.state, clock.consumed_seconds, clock.due_at) == ("paused", 30 * MINUTE, None)
    clock = sla_clocks.resume(clock, calendar, shanghai(2026, 3, 3, 9, 30))
    # Paused: 17:30-18:00 and 09:00-09:30. Remaining 1.5 h from 09:30 is 11:00.
    assert clock.paused_seconds == HOUR
    assert clock.consumed_seconds == 30 * MINUTE
    assert clock.due_at == shanghai(2026, 3, 3, 11)
    assert clock.original_due_at == shanghai(2026, 3, 3, 10)


def test_a_pause_across_national_day_counts_nothing_of_the_holiday():
    clock = paused_between(china_office(), 8 * HOUR, shanghai(2026, 9, 30, 10), shanghai(2026, 9, 30, 11), shanghai(2026, 10, 8, 10))
    # Paused 11-12 and 13:30-18 on 09-30, then 09-10 on 10-08: 6.5 h; consumed 1 h.
    assert clock.paused_seconds == 6.5 * HOUR
    assert clock.consumed_seconds == HOUR
    # 7 h left from Thu 10-08 10:00: 2 h to lunch, 4.5 h after, 0.5 h on Fri 10-09.
    assert clock.due_at == shanghai(2026, 10, 9, 9, 30)


def test_a_paused_clock_cannot_breach_however_long_it_waits():
    calendar = office()
    clock = sla_clocks.start_clock("resolution", HOUR, calendar, shanghai(2026, 3, 2, 9))
    clock = sla_clocks.pause(clock, calendar, shanghai(2026, 3, 2, 9, 30))
    clock = sla_clocks.observe(clock, shanghai(2026, 3, 9, 9))
    assert not clock.breached
    clock = sla_clocks.resume(clock, calendar, shanghai(2026, 3, 9, 9))
    assert clock.due_at == shanghai(2026, 3, 9, 9, 30)
    assert not sla_clocks.observe(clock, shanghai(2026, 3, 9, 9, 30)).breached
    breached = sla_clocks.observe(clock, shanghai(2026, 3, 9, 9, 31))
    assert (breached.breached, breached.breach_cause, breached.breached_at) == (True, "deadline", shanghai(2026, 3, 9, 9, 30))


def test_a_breached_clock_stays_breached_when_fulfilled_and_is_recorded_late():
    calendar = office()
    clock = sla_clocks.start_clock("first_response", HOUR, calendar, shanghai(2026, 3, 2, 9))
    clock = sla_clocks.fulfil(clock, calendar, shanghai(2026, 3, 2, 10, 15))
    assert (clock.state, clock.breached, clock.late, clock.breached_at) == ("fulfilled", True, True, shanghai(2026, 3, 2, 10))
    assert clock.consumed_seconds == 75 * MINUTE


def test_fulfilled_exactly_at_the_deadline_is_on_time():
    calendar = office()
    clock = sla_clocks.start_clock("first_response", HOUR, calendar, shanghai(2026, 3, 2, 9))
    clock = sla_clocks.fulfil(clock, calendar, shanghai(2026, 3, 2, 10))
    assert (clock.breached, clock.late) == (False, False)


def test_a_shorter_target_already_exceeded_breaches_at_once_with_cause_retarget():
    calendar = office()
    clock = sla_clocks.start_clock("resolution", 8 * HOUR, calendar, shanghai(2026, 3, 2, 9))
    clock = sla_clocks.retarget(clock, HOUR, calendar, shanghai(2026, 3, 2, 12))
    assert (clock.breached, clock.breach_cause, clock.breached_at) == (True, "retarget", shanghai(2026, 3, 2, 12))
    assert (clock.consumed_seconds, clock.target_seconds) == (3 * HOUR, HOUR)
    assert clock.original_due_at == shanghai(2026, 3, 2, 10)


def test_a_new_target_is_measured_from_the_original_start_with_pauses_kept():
    calendar = office()
    clock = paused_between(calendar, 8 * HOUR, shanghai(2026, 3, 2, 9), shanghai(2026, 3, 2, 10), shanghai(2026, 3, 2, 12))
    clock = sla_clocks.retarget(clock, 4 * HOUR, calendar, shanghai(2026, 3, 2, 13))
    # Consumed 09-10 and 12-13: 2 h of 4; the 2 h pause still does not count.
    assert (clock.consumed_seconds, clock.paused_seconds, clock.breached) == (2 * HOUR, 2 * HOUR, False)
    assert clock.due_at == shanghai(2026, 3, 2, 15)


def test_a_new_calendar_version_keeps_consumed_time_and_lays_the_rest_on_the_new_hours():
    old = office()  # 09-17
    new = office(hours=LUNCH_BREAK_HOURS, version=2)  # the same calendar's next version
    clock = sla_clocks.start_clock("resolution", 16 * HOUR, old, shanghai(2026, 3, 2, 9))
    clock = sla_clocks.recompute(clock, old, new, shanghai(2026, 3, 2, 13))
    # 4 h consumed on the old hours; 12 h left from Mon 13:00: 4.5 h Monday, 7.5 h Tuesday.
    assert (clock.consumed_seconds, clock.calendar_version) == (4 * HOUR, 2)
    assert clock.due_at == shanghai(2026, 3, 3, 18)
    assert clock.original_due_at == shanghai(2026, 3, 3, 17)


def test_a_clock_survives_its_json_form():
    calendar = office()
    clock = sla_clocks.start_clock("resolution", HOUR, calendar, shanghai(2026, 3, 2, 9))
    clock = sla_clocks.fulfil(clock, calendar, shanghai(2026, 3, 2, 11))
    assert MetricClock.from_dict(clock.to_dict()) == clock
