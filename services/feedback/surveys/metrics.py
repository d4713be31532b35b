"""Survey metrics (NPS, CSAT, CES), their trends, and the rules for sending and answering.

No answers is "no data" (None), never a score of 0. Margins of error are 95% normal
approximations; with fewer than two answers there is no spread to estimate, so they are None.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from statistics import fmean, stdev
from zoneinfo import ZoneInfo

Z_95 = 1.959964
SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


@dataclass(frozen=True)
class SurveyResponse:
    """One answer, stored with its scale; a changed answer is a later response to the same invitation."""

    invitation_id: str
    scale: str
    score: int
    answered_at: datetime

    def __post_init__(self) -> None:
        low, high = SCALES[self.scale]
        if not low <= self.score <= high:
            raise ValueError(f"{self.scale} score {self.score} is outside {low}-{high}")
        if self.answered_at.tzinfo is None:
            raise ValueError("answered_at must be time-zone aware")


@dataclass(frozen=True)
class Nps:
    score: float  # % promoters - % detractors, from -100 to 100
    promoters: int
    passives: int
    detractors: int
    count: int
    margin_of_error: float | None


@dataclass(frozen=True)
class Csat:
    score: float  # % of answers 4-5
    satisfied: int
    count: int
    margin_of_error: float | None


@dataclass(frozen=True)
class Ces:
    mean: float  # on the 1-7 scale
    low_effort_share: float  # % of answers 5-7
    count: int
    margin_of_error: float | None  # of the mean, in scale points


def latest_answers(responses: Iterable[SurveyResponse]) -> list[SurveyResponse]:
    """The latest answer per invitation: history is kept elsewhere, only the latest counts."""
    latest: dict[str, SurveyResponse] = {}
    for response in responses:
        kept = latest.get(response.invitation_id)
        if kept is None or _utc(response.answered_at) >= _utc(kept.answered_at):
            latest[response.invitation_id] = response
    return list(latest.values())


def nps(scores: list[int]) -> Nps | None:
    if not scores:
        return None
    n = len(scores)
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    p, d = promoters / n, detractors / n
    # Each answer is +1, 0 or -1; NPS is their mean, so its variance is E[x^2] - E[x]^2.
    spread = math.sqrt(max(0.0, p + d - (p - d) ** 2) / n)
    return Nps(100 * (p - d), promoters, n - promoters - detractors, detractors, n, _margin(100 * spread, n))


def csat(scores: list[int]) -> Csat | None:
    if not scores:
        return None
    n = len(scores)
    satisfied = sum(s >= 4 for s in scores)
    share = satisfied / n
    return Csat(100 * share, satisfied, n, _margin(100 * math.sqrt(share * (1 - share) / n), n))


def ces(scores: list[int]) -> Ces | None:
    if not scores:
        return None
    n = len(scores)
    low_effort = 100 * sum(s >= 5 for s in scores) / n
    spread = stdev(scores) / math.sqrt(n) if n > 1 else 0.0
    return Ces(fmean(scores), low_effort, n, _margin(spread, n))


def _margin(standard_error: float, n: int) -> float | None:
    return Z_95 * standard_error if n > 1 else None


METRICS: dict[str, Callable[[list[int]], object]] = {"nps": nps, "csat": csat, "ces": ces}


def period_summary(responses: Iterable[SurveyResponse], start: datetime, end: datetime) -> dict[str, object]:
    """NPS, CSAT and CES (each with its counts, or None) of the latest answers in [start, end)."""
    first, last = _utc(start), _utc(end)
    in_period = [r for r in latest_answers(responses) if first <= _utc(r.answered_at) < last]
    return {scale: metric([r.score for r in in_period if r.scale == scale]) for scale, metric in METRICS.items()}


@dataclass(frozen=True)
class TrendBucket:
    label: str  # "2026-W09" or "2026-03"
    starts_on: date
    count: int
    value: object | None  # the metric's result; None when hidden below the minimum count
    hidden: bool


def trend(
    responses: Iterable[SurveyResponse], *, scale: str, period: str, time_zone: str, min_count: int = 5
) -> list[TrendBucket]:
    """A metric per ISO week or calendar month in `time_zone`; buckets under `min_count` are hidden."""
    zone = ZoneInfo(time_zone)
    scores: dict[tuple[str, date], list[int]] = defaultdict(list)
    for response in latest_answers(r for r in responses if r.scale == scale):
        scores[_bucket_of(response.answered_at.astimezone(zone).date(), period)].append(response.score)
    by_start = sorted(scores.items(), key=lambda item: item[0][1])
    return [_bucket(label, starts_on, values, scale, min_count) for (label, starts_on), values in by_start]


def _bucket(label: str, starts_on: date, scores: list[int], scale: str, min_count: int) -> TrendBucket:
    hidden = len(scores) < min_count  # too few answers to show without misleading
    return TrendBucket(label, starts_on, len(scores), None if hidden else METRICS[scale](scores), hidden)


def _bucket_of(day: date, period: str) -> tuple[str, date]:
    if period == "iso_week":
        year, week, weekday = day.isocalendar()
        return f"{year}-W{week:02d}", day - timedelta(days=weekday - 1)
    if period == "month":
        return f"{day.year}-{day.month:02d}", day.replace(day=1)
    raise ValueError(f"unknown trend period {period!r}: use 'iso_week' or 'month'")


def _utc(moment: datetime) -> datetime:
    # Elapsed days, not wall-clock days; and instants compared as instants, whatever the zone.
    return moment.astimezone(timezone.utc)


def response_rate(sent: int, answered: int) -> float | None:
    """Answered share of invitations actually sent (throttled ones were dropped, never sent)."""
    return None if sent == 0 else 100 * answered / sent
