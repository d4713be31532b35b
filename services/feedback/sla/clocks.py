"""One SLA metric's clock: pure functions from (clock, calendar, time) to a new clock.

Consumed and paused time are business seconds on the clock's calendar, counted up to `marked_at`;
a running clock's `due_at` lays the remaining target from `marked_at`. Breached is a flag beside
the state and never goes back to False: a late fulfilment stays late.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass
from datetime import datetime

import numpy as np

from services.feedback.sla.calendars import US_PER_SECOND, BusinessCalendar, CalendarError, from_epoch_us, to_epoch_us
from services.feedback.sla.frozen import evolve

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

    # Both directions are written out field by field: a new calendar version stores and reads
    # back every open complaint's clocks, and the generic forms were a good part of that time.
    def to_dict(self) -> dict:
        d = self.fields()
        for name in _TIME_FIELDS:
            if d[name] is not None:
                d[name] = d[name].isoformat()
        return d

    def fields(self) -> dict:
        """Every field by name, times as datetimes (what to_dict holds before they become text)."""
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict) -> MetricClock:
        values = {**_DEFAULTS, **d}
        if len(values) != len(_FIELDS):  # a key this version does not know is left out
            values = {name: values[name] for name in _FIELDS}
        for name in _TIME_FIELDS:
            if values[name] is not None:
                values[name] = datetime.fromisoformat(values[name])
        clock = object.__new__(cls)  # every field is given: the frozen __init__ would only set them one by one
        clock.__dict__.update(values)
        return clock


_FIELDS = tuple(MetricClock.__dataclass_fields__)
_TIME_FIELDS = ("started_at", "marked_at", "due_at", "original_due_at", "breached_at", "fulfilled_at")
_DEFAULTS = {name: None if f.default is MISSING else f.default for name, f in MetricClock.__dataclass_fields__.items()}


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
    if clock.state != RUNNING or clock.breached or clock.due_at is None:
        return clock
    # Compared as instants: Python compares datetimes of one zone by wall time, ignoring fold.
    if to_epoch_us(at) <= to_epoch_us(clock.due_at):
        return clock
    return evolve(clock, breached=True, breach_cause=DEADLINE, breached_at=clock.due_at)


def pause(clock: MetricClock, calendar: BusinessCalendar, at: datetime) -> MetricClock:
    if clock.state != RUNNING:
        return clock
    clock = _settle(observe(clock, at), calendar, at)
    return evolve(clock, state=PAUSED, due_at=None)


def resume(clock: MetricClock, calendar: BusinessCalendar, at: datetime) -> MetricClock:
    """Resume a paused clock, or a fulfilled one on reopen: the time in between counts as paused."""
    if clock.state not in (PAUSED, FULFILLED):
        return clock
    _check_calendar(clock, calendar)
    paused = clock.paused_seconds + calendar.business_seconds_between(clock.marked_at, at)
    clock = evolve(clock, state=RUNNING, marked_at=at, paused_seconds=paused, fulfilled_at=None)
    return _lay_due(clock, calendar)


def fulfil(clock: MetricClock, calendar: BusinessCalendar, at: datetime) -> MetricClock:
    if clock.state not in (RUNNING, PAUSED):
        return clock
    clock = _settle(observe(clock, at), calendar, at)
    return evolve(clock, state=FULFILLED, fulfilled_at=at, due_at=None)


def cancel(clock: MetricClock, calendar: BusinessCalendar, at: datetime) -> MetricClock:
    """Stop a clock that no longer applies (next_response on resolve): cancelled, not missed."""
    if clock.state not in (RUNNING, PAUSED):
        return clock
    clock = _settle(observe(clock, at), calendar, at)
    return evolve(clock, state=CANCELLED, due_at=None)


def retarget(clock: MetricClock, target_seconds: float, calendar: BusinessCalendar, at: datetime) -> MetricClock:
    """Apply a new target measured from the original start, pauses kept (retroactive start).

    A target already exceeded breaches at once with cause `retarget`; a breach that happened
    before stays, with its cause and moment, even when the new target is longer.
    """
    if clock.state not in (RUNNING, PAUSED):
        return clock
    clock = _settle(observe(clock, at), calendar, at)
    clock = evolve(
        clock,
        target_seconds=target_seconds,
        original_due_at=calendar.add_business_time(clock.started_at, target_seconds),
    )
    if clock.consumed_seconds > target_seconds and not clock.breached:
        clock = evolve(clock, breached=True, breach_cause=RETARGET, breached_at=at)
    return _lay_due(clock, calendar) if clock.state == RUNNING else clock


def recompute(clock: MetricClock, old: BusinessCalendar, new: BusinessCalendar, at: datetime) -> MetricClock:
    """Move a clock to a new calendar version: consumed time is kept, the rest laid on `new`."""
    if clock.state not in (RUNNING, PAUSED):
        return clock
    clock = _settle(observe(clock, at), old, at)
    clock = evolve(clock, calendar=new.name, calendar_version=new.version)
    return _lay_due(clock, new) if clock.state == RUNNING else clock


def recompute_many(
    clocks: list[MetricClock], old: BusinessCalendar, new: BusinessCalendar, at: datetime
) -> list[MetricClock]:
    """recompute() for many clocks of one calendar, with the calendar arithmetic done in numpy.

    Gives the same clocks as calling recompute() on each; it exists because a new calendar
    version must move every open complaint's deadlines within seconds.
    """
    at_us = to_epoch_us(at)
    live = [i for i, clock in enumerate(clocks) if clock.state in (RUNNING, PAUSED)]
    for i in live:
        _check_calendar(clocks[i], old)
    marked_us = np.array([to_epoch_us(clocks[i].marked_at) for i in live], dtype=np.int64)
    elapsed = (old.business_us_between_many(marked_us, at_us) / US_PER_SECOND).tolist()
    settled = [_settled_changes(clocks[i], seconds, at, at_us, new) for i, seconds in zip(live, elapsed)]
    _lay_due_many(settled, at, at_us, new)
    result = list(clocks)
    for i, (change, _) in zip(live, settled):
        result[i] = evolve(clocks[i], **change)
    return result


def _settled_changes(clock: MetricClock, elapsed: float, at: datetime, at_us: int, new: BusinessCalendar):
    """What observe, settle and the calendar move change, and the time left to lay (or None)."""
    change = {"marked_at": at, "calendar": new.name, "calendar_version": new.version}
    if clock.state == PAUSED:
        change["paused_seconds"] = clock.paused_seconds + elapsed
        return change, None
    breached, breached_at = clock.breached, clock.breached_at
    if not breached and clock.due_at is not None and at_us > to_epoch_us(clock.due_at):
        breached, breached_at = True, clock.due_at
        change.update(breached=True, breach_cause=DEADLINE, breached_at=breached_at)
    change["consumed_seconds"] = consumed = clock.consumed_seconds + elapsed
    remaining = clock.target_seconds - consumed
    if remaining > 0:
        return change, remaining
    change["due_at"] = breached_at if breached else at
    return change, None


def _lay_due_many(settled: list[tuple[dict, float | None]], at: datetime, at_us: int, new: BusinessCalendar) -> None:
    """Give each settled clock with time left its deadline on `new`, all in one numpy call."""
    pending = [(change, remaining) for change, remaining in settled if remaining is not None]
    if not pending:
        return
    amounts = np.array([round(remaining * US_PER_SECOND) for _, remaining in pending], dtype=np.int64)
    due_us = new.add_business_us_many(np.full(len(pending), at_us, dtype=np.int64), amounts)
    for (change, _), due in zip(pending, due_us.tolist()):
        change["due_at"] = from_epoch_us(due, at.tzinfo)


def warning_times(
    clock: MetricClock, consumed_at_warnings: list[float], calendar: BusinessCalendar, after: datetime
) -> list[datetime]:
    """When a running clock reaches each warning threshold (in consumed seconds) after `after`."""
    if clock.state != RUNNING or clock.breached:
        return []
    _check_calendar(clock, calendar)
    ahead = sorted(c for c in consumed_at_warnings if c > clock.consumed_seconds)
    moments = [calendar.add_business_time(clock.marked_at, c - clock.consumed_seconds) for c in ahead]
    return [m for m in moments if to_epoch_us(m) > to_epoch_us(after)]


def warning_times_many(clocks: list[MetricClock], consumed_at_warnings: list[list[float]], calendar: BusinessCalendar) -> list[list[int]]:
    """warning_times() for many clocks of one calendar, in epoch microseconds and before its `after`
    filter, with the calendar arithmetic in one numpy call (a recompute publishes the warning moments
    of every moved complaint)."""
    places, starts, amounts = [], [], []
    for n, (clock, thresholds) in enumerate(zip(clocks, consumed_at_warnings)):
        if clock.state != RUNNING or clock.breached or not thresholds:
            continue
        _check_calendar(clock, calendar)
        marked_us = to_epoch_us(clock.marked_at)
        for consumed in sorted(c for c in thresholds if c > clock.consumed_seconds):
            places.append(n)
            starts.append(marked_us)
            amounts.append(round((consumed - clock.consumed_seconds) * US_PER_SECOND))
    moments = [[] for _ in clocks]
    if places:
        found = calendar.add_business_us_many(np.array(starts, dtype=np.int64), np.array(amounts, dtype=np.int64))
        for n, moment in zip(places, found.tolist()):
            moments[n].append(moment)
    return moments


def _settle(clock: MetricClock, calendar: BusinessCalendar, at: datetime) -> MetricClock:
    """Count time up to `at`: as consumed while running, as paused while paused (consumed frozen)."""
    if clock.state not in (RUNNING, PAUSED):
        return clock
    _check_calendar(clock, calendar)
    elapsed = calendar.business_seconds_between(clock.marked_at, at)
    if clock.state == RUNNING:
        return evolve(clock, consumed_seconds=clock.consumed_seconds + elapsed, marked_at=at)
    return evolve(clock, paused_seconds=clock.paused_seconds + elapsed, marked_at=at)


def _lay_due(clock: MetricClock, calendar: BusinessCalendar) -> MetricClock:
    """A running clock's deadline from its remaining time; one already past stays past."""
    _check_calendar(clock, calendar)
    if clock.consumed_seconds >= clock.target_seconds:
        due = clock.breached_at if clock.breached else clock.marked_at
    else:
        due = calendar.add_business_time(clock.marked_at, clock.target_seconds - clock.consumed_seconds)
    return evolve(clock, due_at=due)


def _check_calendar(clock: MetricClock, calendar: BusinessCalendar) -> None:
    if calendar.name != clock.calendar:
        raise CalendarError(f"{clock.metric} runs on calendar {clock.calendar!r}, not {calendar.name!r}")
