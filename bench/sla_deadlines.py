"""SLA deadline throughput on the Chinese office calendar, checked against a minute-by-minute walk.

Run: .venv/bin/python bench/sla_deadlines.py [--pairs 100000] [--sample 300] [--complaints 100000]

1. Deadlines for random (start, target) pairs over 2026 on a calendar with a lunch break, China's
   holidays and adjusted working days; targets from 1 minute to 30 business days (log-uniform).
   Pairs whose deadline would fall in 2027 are refused (the year is not verified) and counted.
2. A naive reference on a sample, in the same run: walk minute by minute, asking each minute
   whether it is open. Both the deadline and the business time back must agree.
3. Recompute open complaints after a new calendar version, with consumed time kept.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.feedback.sla.calendars import BusinessCalendar, CalendarError
from services.feedback.complaints.sla_state import ComplaintOpened, SlaContext, open_complaint, recompute_for_calendar, rematch
from services.feedback.sla.policies import ComplaintAttributes, PolicySet

SHANGHAI = ZoneInfo("Asia/Shanghai")
MINUTE = timedelta(minutes=1)
THIRTY_BUSINESS_DAYS = 30 * 7.5 * 3600
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def china_office(version: int, exceptions=()) -> BusinessCalendar:
    return BusinessCalendar.from_dict(
        {
            "name": "cn-office",
            "version": version,
            "time_zone": "Asia/Shanghai",
            "weekly": {day: [["09:00", "12:00"], ["13:30", "18:00"]] for day in WEEKDAYS},
            "holidays": {"country": "CN", "observe_makeup_workdays": True, "makeup_workday_hours": "mon"},
            "exceptions": list(exceptions),
            "verified_years": [2024, 2025, 2026],
        }
    )


def random_pairs(rng: random.Random, n: int, whole_minutes: bool = False) -> list[tuple[datetime, int]]:
    year_start = datetime(2026, 1, 1, tzinfo=SHANGHAI).timestamp()
    year_end = datetime(2027, 1, 1, tzinfo=SHANGHAI).timestamp()
    pairs = []
    for _ in range(n):
        start = rng.uniform(year_start, year_end)
        target = math.exp(rng.uniform(math.log(60), math.log(THIRTY_BUSINESS_DAYS)))
        if whole_minutes:
            start, target = start // 60 * 60, target // 60 * 60
        pairs.append((datetime.fromtimestamp(int(start), SHANGHAI), int(target)))
    return pairs


def deadlines(calendar: BusinessCalendar, pairs) -> list[datetime | None]:
    """Deadlines, or None where the calendar refuses (a deadline in the unverified 2027)."""
    results = []
    for start, target in pairs:
        try:
            results.append(calendar.add_business_time(start, target))
        except CalendarError:
            results.append(None)
    return results


def minute_is_open(calendar: BusinessCalendar, moment: datetime) -> bool:
    local = moment.astimezone(SHANGHAI)
    second_of_day = local.hour * 3600 + local.minute * 60
    return any(start <= second_of_day < end for start, end in calendar.hours_on(local.date()))


def naive_deadline(calendar: BusinessCalendar, start: datetime, target: int) -> datetime | None:
    """The reference: step one minute at a time, counting the open ones."""
    remaining, moment = target // 60, start
    while remaining:
        if moment.year > 2026:
            return None
        if minute_is_open(calendar, moment):
            remaining -= 1
        moment += MINUTE
    return moment


def check_against_reference(calendar: BusinessCalendar, sample) -> tuple[int, int, float]:
    agree = 0
    started = time.perf_counter()
    for start, target in sample:
        expected = naive_deadline(calendar, start, target)
        try:
            got = calendar.add_business_time(start, target)
            back = calendar.business_seconds_between(start, got)
        except CalendarError:
            got, back = None, None
        agree += got == expected and (got is None or back == target)
    return agree, len(sample), time.perf_counter() - started


def open_complaints(calendar: BusinessCalendar, n: int, rng: random.Random) -> tuple[list, SlaContext]:
    policies = PolicySet.from_dict(
        {
            "policies": [
                {
                    "id": "standard",
                    "position": 1,
                    "default": True,
                    "targets": {
                        "first_response": {"normal": {"seconds": 4 * 3600, "calendar": "cn-office"}},
                        "resolution": {"normal": {"seconds": 5 * 27_000, "calendar": "cn-office"}},
                    },
                }
            ]
        }
    )
    context = SlaContext(policies, {"cn-office": calendar})
    # Opened over the week before `now`, so most resolution clocks are still running.
    first = datetime(2026, 6, 24, 9, tzinfo=SHANGHAI).timestamp()
    last = datetime(2026, 7, 1, 9, tzinfo=SHANGHAI).timestamp()
    complaints = [
        open_complaint(
            ComplaintOpened(f"open-{i}", datetime.fromtimestamp(int(rng.uniform(first, last)), SHANGHAI), f"c-{i}", ComplaintAttributes()),
            context,
        )
        for i in range(n)
    ]
    return complaints, context


def report_recompute(how: str, complaints, recomputed, elapsed: float) -> None:
    running = sum(sla.clock("resolution").state == "running" and not sla.clock("resolution").breached for sla in recomputed)
    moved = sum(a.clock("resolution").due_at != b.clock("resolution").due_at for a, b in zip(complaints, recomputed))
    print(f"recompute {how}: {len(complaints):,} open complaints (2 clocks each) on a new calendar version in "
          f"{elapsed:.3f} s = {len(complaints) / elapsed:,.0f} per second "
          f"({running:,} resolution clocks within target, {moved:,} resolution deadlines moved)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--complaints", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    calendar = china_office(version=1)

    pairs = random_pairs(rng, args.pairs)
    started = time.perf_counter()
    results = deadlines(calendar, pairs)
    elapsed = time.perf_counter() - started
    refused = sum(r is None for r in results)
    print(f"deadlines: {len(pairs):,} pairs in {elapsed:.3f} s = {len(pairs) / elapsed:,.0f} per second "
          f"(cold cache, {refused:,} refused as 2027 is not verified)")

    agree, total, naive_seconds = check_against_reference(calendar, random_pairs(rng, args.sample, whole_minutes=True))
    print(f"reference: {agree}/{total} sample pairs agree with the minute-by-minute walk "
          f"({naive_seconds:.1f} s for the walk, {total / naive_seconds:,.1f} per second)")

    complaints, old = open_complaints(calendar, args.complaints, rng)
    new_calendar = china_office(version=2, exceptions=[{"date": "2026-07-03", "hours": []}])
    now = datetime(2026, 7, 1, 9, tzinfo=SHANGHAI)
    started = time.perf_counter()
    recomputed = recompute_for_calendar(complaints, calendar, new_calendar, now)
    elapsed = time.perf_counter() - started
    report_recompute("in one batch", complaints, recomputed, elapsed)

    new = SlaContext(old.policies, {"cn-office": china_office(version=2, exceptions=[{"date": "2026-07-03", "hours": []}])})
    started = time.perf_counter()
    one_by_one = [rematch(sla, old, new, now) for sla in complaints]
    elapsed = time.perf_counter() - started
    report_recompute("one at a time", complaints, one_by_one, elapsed)
    if [c.clocks for c in one_by_one] != [c.clocks for c in recomputed]:
        raise SystemExit("the batch recompute disagrees with recomputing one complaint at a time")
    if agree != total:
        raise SystemExit("the fast deadlines disagree with the reference")


if __name__ == "__main__":
    main()
