"""NPS, CSAT and CES of a period's answers with their 95% margins, and the buckets of their trend
(scoring.md §7).

No answers is "no data" (None), never 0. Margins are normal approximations, as the feedback
service gives them; with fewer than two answers there is no spread to estimate, so they are None.
"""

import math
from datetime import UTC, datetime, timedelta
from statistics import fmean, stdev

Z_95 = 1.959964
# Up to about a quarter, a trend by ISO week reads well; beyond, weeks are too many and too thin.
WEEKS_UP_TO = timedelta(days=92)


def survey_metric(kind: str, scores: list[int]) -> dict:
    """`{"count", "score", "margin"}`: NPS in points (-100..100), CSAT in % (0..100), CES on 1..7."""
    n = len(scores)
    if not n:
        return {"count": 0, "score": None, "margin": None}
    if kind == "nps":
        promoters, detractors = sum(s >= 9 for s in scores) / n, sum(s <= 6 for s in scores) / n
        # Each answer counts +1, 0 or -1; NPS is their mean, so its variance is E[x²] - E[x]².
        score, spread = 100 * (promoters - detractors), 100 * math.sqrt(max(0.0, promoters + detractors - (promoters - detractors) ** 2))
    elif kind == "csat":
        share = sum(s >= 4 for s in scores) / n
        score, spread = 100 * share, 100 * math.sqrt(share * (1 - share))
    else:
        score, spread = fmean(scores), (stdev(scores) if n > 1 else 0.0)
    return {"count": n, "score": score, "margin": Z_95 * spread / math.sqrt(n) if n > 1 else None}


def trend_buckets(start: datetime, end: datetime) -> list[tuple[str, datetime, datetime]]:
    """`(label, from, to)` covering [start, end): ISO weeks ("2026-W09") for a short period, calendar
    months ("2026-03") otherwise, in UTC; the first and last are cut at the period's ends."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    by_week = end - start <= WEEKS_UP_TO
    buckets, moment = [], start
    while moment < end:
        boundary = _next_week(moment) if by_week else _next_month(moment)
        buckets.append((_label(moment, by_week), moment, min(boundary, end)))
        moment = boundary
    return buckets


def _label(moment: datetime, by_week: bool) -> str:
    if by_week:
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{moment.year}-{moment.month:02d}"


def _next_week(moment: datetime) -> datetime:
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(days=7 - moment.weekday())


def _next_month(moment: datetime) -> datetime:
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(month=first.month + 1)
