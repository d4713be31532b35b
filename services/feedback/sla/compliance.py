"""SLA compliance: fulfilled on time / (fulfilled on time + breached), per metric, per period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.feedback.sla.calendars import to_epoch_us
from services.feedback.sla.clocks import FULFILLED, MetricClock


@dataclass(frozen=True)
class Compliance:
    on_time: int
    breached: int

    @property
    def ratio(self) -> float | None:
        settled = self.on_time + self.breached
        return None if settled == 0 else self.on_time / settled


def compliance(clocks: Iterable[MetricClock], start: datetime, end: datetime) -> dict[str, Compliance]:
    """Each clock counts in the period in which it was settled: fulfilled on time, or breached."""
    on_time: dict[str, int] = defaultdict(int)
    breached: dict[str, int] = defaultdict(int)
    first, last = to_epoch_us(start), to_epoch_us(end)  # instants, whatever the zones
    for clock in clocks:
        if clock.breached and first <= to_epoch_us(clock.breached_at) < last:
            breached[clock.metric] += 1
        elif not clock.breached and clock.state == FULFILLED and first <= to_epoch_us(clock.fulfilled_at) < last:
            on_time[clock.metric] += 1
    return {metric: Compliance(on_time[metric], breached[metric]) for metric in sorted({*on_time, *breached})}
