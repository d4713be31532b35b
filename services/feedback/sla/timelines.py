"""Open time as sorted interval arrays with running sums: what makes a deadline two bisections.

A calendar turns each local year into a YearTimeline once (lists, for one deadline at a time)
and joins consecutive years into a Span (numpy arrays, for many deadlines at once). Instants and
amounts are integer epoch microseconds, so sums are exact.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class YearTimeline:
    """Open intervals of one local year, in epoch microseconds, with cumulative open time."""

    starts: list[int]
    ends: list[int]
    cum_start: list[int]  # open time in the year before interval i starts
    cum_end: list[int]  # open time in the year up to the end of interval i

    @property
    def total(self) -> int:
        return self.cum_end[-1] if self.cum_end else 0

    def open_before(self, t: int) -> int:
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return 0
        return self.cum_start[i] + min(t, self.ends[i]) - self.starts[i]

    def instant_after_open(self, amount: int) -> int:
        """The earliest instant by which `amount` (> 0) open time of the year has passed."""
        i = bisect_left(self.cum_end, amount)
        return self.ends[i] - (self.cum_end[i] - amount)


@dataclass(frozen=True)
class Span:
    """Consecutive year timelines as numpy arrays, open time counted from the first year's start."""

    first_year: int
    last_year: int
    starts: np.ndarray
    ends: np.ndarray
    cum_start: np.ndarray
    cum_end: np.ndarray

    @classmethod
    def joining(cls, first_year: int, last_year: int, timelines: list[YearTimeline]) -> Span:
        starts, ends, cum_start, cum_end = [], [], [], []
        offset = 0  # open time of the years before this one
        for timeline in timelines:
            starts += timeline.starts
            ends += timeline.ends
            cum_start += [c + offset for c in timeline.cum_start]
            cum_end += [c + offset for c in timeline.cum_end]
            offset += timeline.total
        arrays = (np.array(values, dtype=np.int64) for values in (starts, ends, cum_start, cum_end))
        return cls(first_year, last_year, *arrays)

    @property
    def total(self) -> int:
        return int(self.cum_end[-1]) if len(self.cum_end) else 0

    def open_before(self, t: np.ndarray) -> np.ndarray:
        i = np.searchsorted(self.starts, t, side="right") - 1
        inside = i >= 0
        i = np.maximum(i, 0)
        return np.where(inside, self.cum_start[i] + np.minimum(t, self.ends[i]) - self.starts[i], 0)

    def instant_after_open(self, amount: np.ndarray) -> np.ndarray:
        i = np.minimum(np.searchsorted(self.cum_end, amount, side="left"), len(self.cum_end) - 1)
        return self.ends[i] - (self.cum_end[i] - amount)
