"""The time every handler, timer and job reads: the wall clock in service, a moved one in tests."""

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from services.common.timeutil import as_utc, utcnow


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()


class ManualClock:
    """Stands still until a test moves it; whoever sleeps until a moment (the timer loop) is told."""

    def __init__(self, start: datetime | None = None):
        self._now = as_utc(start) if start is not None else utcnow()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def on_move(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def advance(self, by: timedelta | float) -> datetime:
        step = by if isinstance(by, timedelta) else timedelta(seconds=by)
        if step < timedelta(0):
            raise ValueError("a clock does not run backwards")
        return self.set(self.now() + step)

    def set(self, moment: datetime) -> datetime:
        moment = as_utc(moment)
        with self._lock:
            if moment < self._now:
                raise ValueError("a clock does not run backwards")
            self._now = moment
        for listener in self._listeners:
            listener()
        return moment
