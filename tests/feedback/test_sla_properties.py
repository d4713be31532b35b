"""Random complaint histories: the clocks' invariants hold after every event, in any order."""

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.feedback.complaints import lifecycle
from services.feedback.sla import clocks as sla_clocks
from services.feedback.sla.calendars import BusinessCalendar
from services.feedback.complaints.sla_state import (
    AgentReplied,
    AttributesChanged,
    CustomerMessaged,
    StatusChanged,
    apply_event,
    observe,
)
from services.feedback.complaints.lifecycle import IllegalTransition
from services.feedback.sla.policies import ComplaintAttributes
from tests.feedback.calendars_fixtures import EVERY_DAY, office, shanghai, weekly
from tests.feedback.sla_fixtures import context, next_id, opened

ROUND_THE_CLOCK = BusinessCalendar.from_dict(
    {"name": "office", "time_zone": "UTC", "weekly": weekly([["00:00", "24:00"]], days=EVERY_DAY)}
)
CONTEXTS = {"office hours": context(office()), "round the clock": context(ROUND_THE_CLOCK)}
START = shanghai(2026, 3, 2, 9)

step = st.tuples(
    st.sampled_from(["transition", "transition", "transition", "any action", "reply", "note", "customer", "priority", "observe", "repeat"]),
    st.integers(0, 600),  # minutes after the previous step
    st.integers(0, 90),  # minutes the event arrives late
    st.sampled_from(["low", "normal", "urgent"]),
    st.integers(0, 10),  # which action: among those allowed for "transition", any for "any action"
)
ACTIONS = sorted({action for _, action in lifecycle.TRANSITIONS})


def resolution_runs(status: str, tier: str | None) -> bool:
    paused = {lifecycle.WAITING_ON_CUSTOMER, lifecycle.RESOLVED, lifecycle.CLOSED}
    if tier == "gold":  # that policy also pauses while waiting on a third party
        paused.add(lifecycle.WAITING_ON_THIRD_PARTY)
    return status not in paused


def event_for(kind: str, at, priority: str, tier, status: str, choice: int):
    if kind == "reply":
        return AgentReplied(next_id(), at)
    if kind == "note":
        return AgentReplied(next_id(), at, public=False)
    if kind == "customer":
        return CustomerMessaged(next_id(), at)
    if kind == "priority":
        return AttributesChanged(next_id(), at, ComplaintAttributes(priority=priority, tier=tier))
    actions = lifecycle.allowed_actions(status) if kind == "transition" else ACTIONS
    return StatusChanged(next_id(), at, actions[choice % len(actions)] if actions else "reopen")


@pytest.mark.parametrize("hours", sorted(CONTEXTS))
@settings(max_examples=150, deadline=None)
@given(steps=st.lists(step, max_size=40), tier=st.sampled_from([None, "gold"]))
def test_clocks_never_count_paused_time_never_run_backwards_and_never_unbreach(hours, steps, tier):
    ctx = CONTEXTS[hours]
    calendar = ctx.calendars["office"]
    sla = opened(START, tier=tier, ctx=ctx)
    applied, expected_consumed, counted_to, arrival = [], 0.0, START, START
    previous = sla
    for kind, minutes, late, priority, choice in steps:
        arrival += timedelta(minutes=minutes)
        if kind == "observe":
            sla = observe(sla, arrival)
        elif kind == "repeat" and applied:
            again = apply_event(sla, applied[-1 - minutes % len(applied)], ctx)
            assert again == sla, "a repeated event must change nothing"
        elif kind != "repeat":
            event = event_for(kind, arrival - timedelta(minutes=late), priority, tier, sla.status, choice)
            effective = max(event.at, sla.last_event_at)
            try:
                changed = apply_event(sla, event, ctx)
            except IllegalTransition:
                continue
            if resolution_runs(sla.status, tier):
                expected_consumed += calendar.business_seconds_between(counted_to, effective)
            counted_to = effective
            sla = changed
            applied.append(event)
        assert_invariants(previous, sla, calendar, expected_consumed, counted_to)
        previous = sla


def assert_invariants(previous, sla, calendar, expected_consumed, counted_to):
    resolution = sla.clock("resolution")
    assert sla_clocks.consumed_at(resolution, calendar, counted_to) == pytest.approx(expected_consumed, abs=1e-6)
    for clock in sla.clocks:
        before = previous.clock(clock.metric)
        if before is None or before.instance != clock.instance:
            continue
        assert clock.consumed_seconds >= before.consumed_seconds, f"{clock.metric} ran backwards"
        assert clock.breached or not before.breached, f"{clock.metric} returned to not breached"
        if clock.state == sla_clocks.PAUSED:
            assert clock.due_at is None
