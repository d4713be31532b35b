"""One SLA metric's clock: pure functions from (clock, calendar, time) to a new clock.

Consumed and paused time are business seconds on the clock's calendar, counted up to `marked_at`;
a running clock's `due_at` lays the remaining target from `marked_at`. Breached is a flag beside
the state and never goes back to False: a late fulfilment stays late.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from services.feedback.calendars import BusinessCalendar, CalendarError

RUNNING = "running"
PAUSED = "paused"
FULFILLED = "fulfilled"
CANCELLED = "cancelled"

DEADLINE = "deadline"  # the clock ran past its due time
RETARGET = "retarget"  # a new, shorter target was already exceeded when it was applied


@dataclass(frozen=True)
class MetricClock:
    metric: str
    instance: int
    state: str
    target_seconds: float
    calendar: str
    calendar_version: int
    started_at: datetime
    marked_at: datetime
    consumed_seconds: float = 0
    paused_seconds: float = 0
    due_at: datetime | None = None
    original_due_at: datetime | None = None
    breached: bool = False
    breach_cause: str | None = None
    breached_at: datetime | None = None
    fulfilled_at: datetime | None = None

    @property
    def late(self) -> bool:
        return self.state == FULFILLED and self.breached

    @property
    def remaining_seconds(self) -> float:
        return max(0, self.target_seconds - self.consumed_seconds)

    def to_dict(self) -> dict:
        return {name: _plain(getattr(self, name)) for name in _FIELDS}

    @classmethod
    def from_dict(cls, d: dict) -> MetricClock:
        return cls(**{name: _parse(name, d.get(name)) for name in _FIELDS})


_FIELDS = tuple(MetricClock.__dataclass_fields__)
_TIME_FIELDS = {"started_at", "marked_at", "due_at", "original_due_at", "breached_at", "fulfilled_at"}


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _parse(name: str, value):
    return datetime.fromisoformat(value) if name in _TIME_FIELDS and value is not None else value


def start_clock(metric: str, target_seconds: float, calendar: BusinessCalendar, at: datetime, instance: int = 1):
    due = calendar.add_business_time(at, target_seconds)
    return MetricClock(
        metric=metric,
        instance=instance,
        state=RUNNING,
        target_seconds=target_seconds,
        calendar=calendar.name,
        calendar_version=calendar.version,
        started_at=at,
        marked_at=at,
        due_at=due,
        original_due_at=due,
    )


def consumed_at(clock: MetricClock, calendar: BusinessCalendar, at: datetime) -> float:
    """Consumed business seconds as of `at`, without changing the clock."""
    if clock.state != RUNNING:
        return clock.consumed_seconds
    return clock.consumed_seconds + calendar.business_seconds_between(clock.marked_at, at)


def observe(clock: MetricClock, at: datetime) -> MetricClock:
    """Flag a running clock breached once `at` is past its due time; paused clocks cannot breach."""
    if clock.state != RUNNING or clock.breached or clock.due_at is None or at <= clock.due_at:
        return clock
    return replace(clock, breached=True, breach_cause=DEADLINE, breached_at=clock.due_at)


def pause(clock: MetricClock, calendar: BusinessCalendar, at: datetime) -> MetricClock:
    if clock.state != RUNNING:
        return clock
    clock = _settle(observe(clock, at), calendar, at)
    return replace(clock, state=PAUSED, due_at=None)


def resume(clock: MetricClock, calendar: BusinessCalendar, at: datetime) -> MetricClock:
    """Resume a paused clock, or a fulfilled one on reopen: the time in between counts as paused."""
    if clock.state not in (PAUSED, FULFILLED):
        return clock
    _check_calendar(clock, calendar)
    paused = clock.paused_seconds + calendar.business_seconds_between(clock.marked_at, at)
    clock = replace(clock, state=RUNNING, marked_at=at, paused_seconds=paused, fulfilled_at=None)
    return _lay_due(clock, calendar)


def fulfil(clock: MetricClock, calendar: BusinessCalendar, at: datetime) -> MetricClock:
    if clock.state not in (RUNNING, PAUSED):
        return clock
    clock = _settle(observe(clock, at), calendar, at)
    return replace(clock, state=FULFILLED, fulfilled_at=at, due_at=None)


def cancel(clock: MetricClock, calendar: BusinessCalendar, at: datetime) -> MetricClock:
    """Stop a clock that no longer applies (next_response on resolve): cancelled, not missed."""
    if clock.state not in (RUNNING, PAUSED):
        return clock
    clock = _settle(observe(clock, at), calendar, at)
    return replace(clock, state=CANCELLED, due_at=None)


def retarget(clock: MetricClock, target_seconds: float, calendar: BusinessCalendar, at: datetime) -> MetricClock:
    """Apply a new target measured from the original start, pauses kept (retroactive start).

    A target already exceeded breaches at once with cause `retarget`; a breach that happened
    before stays, with its cause and moment, even when the new target is longer.
    """
    if clock.state not in (RUNNING, PAUSED):
        return clock
    clock = _settle(observe(clock, at), calendar, at)
    clock = replace(
        clock,
        target_seconds=target_seconds,
        original_due_at=calendar.add_business_time(clock.started_at, target_seconds),
    )
    if clock.consumed_seconds > target_seconds and not clock.breached:
        clock = replace(clock, breached=True, breach_cause=RETARGET, breached_at=at)
    return _lay_due(clock, calendar) if clock.state == RUNNING else clock


def recompute(clock: MetricClock, old: BusinessCalendar, new: BusinessCalendar, at: datetime) -> MetricClock:
    """Move a clock to a new calendar version: consumed time is kept, the rest laid on `new`."""
    if clock.state not in (RUNNING, PAUSED):
        return clock
    clock = _settle(observe(clock, at), old, at)
    clock = replace(clock, calendar=new.name, calendar_version=new.version)
    return _lay_due(clock, new) if clock.state == RUNNING else clock


def _settle(clock: MetricClock, calendar: BusinessCalendar, at: datetime) -> MetricClock:
    """Count time up to `at`: as consumed while running, as paused while paused (consumed frozen)."""
    if clock.state not in (RUNNING, PAUSED):
        return clock
    _check_calendar(clock, calendar)
    elapsed = calendar.business_seconds_between(clock.marked_at, at)
    if clock.state == RUNNING:
        return replace(clock, consumed_seconds=clock.consumed_seconds + elapsed, marked_at=at)
    return replace(clock, paused_seconds=clock.paused_seconds + elapsed, marked_at=at)


def _lay_due(clock: MetricClock, calendar: BusinessCalendar) -> MetricClock:
    """A running clock's deadline from its remaining time; one already past stays past."""
    _check_calendar(clock, calendar)
    if clock.consumed_seconds >= clock.target_seconds:
        due = clock.breached_at if clock.breached else clock.marked_at
    else:
        due = calendar.add_business_time(clock.marked_at, clock.target_seconds - clock.consumed_seconds)
    return replace(clock, due_at=due)


def _check_calendar(clock: MetricClock, calendar: BusinessCalendar) -> None:
    if calendar.name != clock.calendar:
        raise CalendarError(f"{clock.metric} runs on calendar {clock.calendar!r}, not {calendar.name!r}")
