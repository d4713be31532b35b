"""Recomputing many open complaints at once after a new calendar version."""

import random
from datetime import timedelta

import numpy as np

from services.feedback.sla import clocks as sla_clocks
from services.feedback.sla.calendars import to_epoch_us
from services.feedback.complaints.sla_state import recompute_for_calendar
from tests.feedback.calendars_fixtures import HOUR, LUNCH_BREAK_HOURS, china_office, office, shanghai
from tests.feedback.sla_fixtures import context, opened, status, statuses


def test_a_new_calendar_version_moves_open_deadlines_and_keeps_consumed_time_in_one_batch():
    old, new = office(), office(hours=LUNCH_BREAK_HOURS, version=2)
    resolved = status(opened(shanghai(2026, 3, 2, 9), complaint_id="done"), "resolve", shanghai(2026, 3, 2, 10))
    still_open = opened(shanghai(2026, 3, 2, 9), complaint_id="open")
    done, moved = recompute_for_calendar([resolved, still_open], old, new, shanghai(2026, 3, 2, 13))
    assert done == resolved
    resolution = moved.clock("resolution")
    # 4 h consumed on 09-17; 12 h left from Mon 13:00 on 09-12/13:30-18: 4.5 h Monday, 7.5 h Tuesday.
    assert (resolution.consumed_seconds, resolution.calendar_version) == (4 * HOUR, 2)
    assert resolution.due_at == shanghai(2026, 3, 3, 18)
    # first_response: its 4 h are used up exactly at 13:00, so it is due now but not yet past due.
    first = moved.clock("first_response")
    assert (first.consumed_seconds, first.due_at, first.breached) == (4 * HOUR, shanghai(2026, 3, 2, 13), False)


def test_recomputing_in_a_batch_gives_the_same_clocks_as_one_at_a_time():
    rng = random.Random(8)
    ctx = context()
    old = ctx.calendars["office"]
    new = office(version=2, exceptions=[{"date": "2026-03-05", "hours": []}])
    slas = []
    for n in range(300):
        sla = opened(shanghai(2026, 3, 2, 9) + timedelta(minutes=rng.randrange(0, 3 * 24 * 60)), complaint_id=f"c-{n}", ctx=ctx)
        if n % 3 == 0:
            sla = statuses(sla, sla.last_event_at, "acknowledge", "start", ctx=ctx)
            sla = status(sla, "wait_on_customer", sla.last_event_at + timedelta(minutes=30), ctx)
        slas.append(sla)
    at = shanghai(2026, 3, 5, 11)
    clocks = [clock for sla in slas for clock in sla.clocks]
    assert sla_clocks.recompute_many(clocks, old, new, at) == [sla_clocks.recompute(c, old, new, at) for c in clocks]


def test_batch_business_time_agrees_with_one_at_a_time_across_a_year_end_and_holidays():
    calendar = china_office()
    rng = random.Random(8)
    starts = [shanghai(2025, 12, 1) + timedelta(seconds=rng.randrange(0, 60 * 86_400)) for _ in range(500)]
    amounts = [rng.randrange(0, 20 * 27_000) for _ in range(500)]
    starts_us = np.array([to_epoch_us(s) for s in starts], dtype=np.int64)
    due_us = calendar.add_business_us_many(starts_us, np.array(amounts, dtype=np.int64) * 1_000_000)
    assert due_us.tolist() == [to_epoch_us(calendar.add_business_time(s, a)) for s, a in zip(starts, amounts)]
    end = shanghai(2026, 2, 27, 12)
    counted = calendar.business_us_between_many(starts_us, to_epoch_us(end))
    assert (counted / 1e6).tolist() == [calendar.business_seconds_between(s, end) for s in starts]
