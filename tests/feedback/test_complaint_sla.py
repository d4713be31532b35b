"""A complaint's SLA through its lifecycle: answers worked out by hand on the 09-17 office calendar."""

import pytest

from services.common.catalog import SlaMetricSnapshot
from services.feedback.complaints.sla_state import AgentReplied, AttributesChanged, ComplaintSla, apply_event, event_payload, observe
from services.feedback.sla.policies import ComplaintAttributes
from services.feedback.complaints.lifecycle import IllegalTransition
from services.feedback.sla.compliance import compliance
from tests.feedback.calendars_fixtures import HOUR, shanghai
from tests.feedback.sla_fixtures import (
    agent_reply,
    customer_message,
    default_context,
    in_progress,
    next_id,
    opened,
    priority_changed,
    status,
    statuses,
)

MINUTE = 60
MONDAY_0900 = shanghai(2026, 3, 2, 9)


def test_a_complaint_without_priority_gets_the_default_priority_and_its_targets():
    sla = opened(MONDAY_0900, priority=None)
    assert sla.attributes.priority == "normal"
    assert sla.clock("first_response").due_at == shanghai(2026, 3, 2, 13)  # 4 h
    assert sla.clock("resolution").due_at == shanghai(2026, 3, 3, 17)  # 16 h: two office days


def test_a_gold_customer_is_matched_by_the_first_policy_by_position():
    sla = opened(MONDAY_0900, tier="gold")
    assert sla.policy_id == "gold-customers"
    assert sla.clock("first_response").target_seconds == HOUR


def test_internal_notes_and_auto_replies_do_not_answer_the_customer():
    sla = agent_reply(opened(MONDAY_0900), shanghai(2026, 3, 2, 9, 5), public=False)
    sla = agent_reply(sla, shanghai(2026, 3, 2, 9, 6), automated=True)
    assert sla.clock("first_response").state == "running"
    sla = agent_reply(sla, shanghai(2026, 3, 2, 9, 30))
    assert sla.clock("first_response").state == "fulfilled"
    assert sla.clock("first_response").consumed_seconds == 30 * MINUTE


def test_waiting_on_the_customer_pauses_resolution_but_never_first_response():
    sla = in_progress(MONDAY_0900)
    sla = status(sla, "wait_on_customer", shanghai(2026, 3, 2, 10))
    assert sla.clock("resolution").state == "paused"
    assert sla.clock("first_response").state == "running"
    sla = status(sla, "resume", shanghai(2026, 3, 3, 10))
    # 1 h consumed before the pause; 15 h left from Tue 10:00: 7 h Tuesday, 8 h Wednesday.
    assert sla.clock("resolution").consumed_seconds == HOUR
    assert sla.clock("resolution").due_at == shanghai(2026, 3, 4, 17)


def test_waiting_on_a_third_party_pauses_resolution_only_where_the_policy_says_so():
    def waiting(tier):
        sla = in_progress(MONDAY_0900, tier=tier)
        return status(sla, "wait_on_third_party", shanghai(2026, 3, 2, 10)).clock("resolution").state

    assert waiting(tier=None) == "running"
    assert waiting(tier="gold") == "paused"


def test_priority_raised_after_three_hours_to_a_one_hour_target_breaches_at_once_with_cause_retarget():
    sla = priority_changed(opened(MONDAY_0900, priority="low"), "urgent", shanghai(2026, 3, 2, 12))
    for metric in ("first_response", "resolution"):
        clock = sla.clock(metric)
        assert (clock.breached, clock.breach_cause, clock.breached_at) == (True, "retarget", shanghai(2026, 3, 2, 12))
        assert (clock.consumed_seconds, clock.target_seconds) == (3 * HOUR, HOUR)


def test_priority_lowered_after_a_breach_keeps_the_breach_and_its_history():
    sla = observe(opened(MONDAY_0900, priority="urgent"), shanghai(2026, 3, 2, 10, 30))
    assert sla.clock("first_response").breached_at == shanghai(2026, 3, 2, 10)
    sla = priority_changed(sla, "low", shanghai(2026, 3, 2, 11))
    clock = sla.clock("first_response")
    assert (clock.breached, clock.breach_cause, clock.breached_at) == (True, "deadline", shanghai(2026, 3, 2, 10))
    # The 8 h low target, 2 h consumed: due at 17:00 the same day.
    assert (clock.target_seconds, clock.due_at) == (8 * HOUR, shanghai(2026, 3, 2, 17))


def test_resolve_reopen_and_resolve_again_count_the_time_resolved_as_paused():
    sla = agent_reply(opened(MONDAY_0900), shanghai(2026, 3, 2, 9, 30))
    sla = status(sla, "resolve", shanghai(2026, 3, 2, 11))
    assert sla.clock("resolution").state == "fulfilled"
    sla = status(sla, "reopen", shanghai(2026, 3, 3, 10))
    resolution = sla.clock("resolution")
    # Resolved Mon 11:00 to Tue 10:00: 6 h + 1 h of office time, paused. 14 h left: Wed 16:00.
    assert (resolution.state, resolution.consumed_seconds, resolution.paused_seconds) == ("running", 2 * HOUR, 7 * HOUR)
    assert resolution.due_at == shanghai(2026, 3, 4, 16)
    assert sla.clock("first_response").fulfilled_at == shanghai(2026, 3, 2, 9, 30)
    assert sla.reopen_count == 1
    sla = status(sla, "resolve", shanghai(2026, 3, 3, 12))
    resolution = sla.clock("resolution")
    assert (resolution.state, resolution.consumed_seconds, resolution.breached) == ("fulfilled", 4 * HOUR, False)


def test_resolving_stops_every_clock_so_none_runs_on_after_resolve():
    sla = customer_message(agent_reply(opened(MONDAY_0900), shanghai(2026, 3, 2, 9, 30)), shanghai(2026, 3, 2, 10))
    assert sla.clock("next_response").state == "running"
    sla = status(sla, "resolve", shanghai(2026, 3, 2, 10, 30))
    assert {c.metric: c.state for c in sla.clocks} == {
        "first_response": "fulfilled",
        "resolution": "fulfilled",
        "next_response": "cancelled",
    }
    later = observe(sla, shanghai(2026, 3, 9, 9))
    assert not any(c.breached for c in later.clocks)


def test_next_response_runs_from_the_oldest_unanswered_customer_message():
    sla = agent_reply(opened(MONDAY_0900), shanghai(2026, 3, 2, 9, 30))
    sla = customer_message(sla, shanghai(2026, 3, 2, 10))
    sla = customer_message(sla, shanghai(2026, 3, 2, 10, 30))
    assert sla.clock("next_response").due_at == shanghai(2026, 3, 2, 12)  # 2 h from 10:00
    sla = agent_reply(sla, shanghai(2026, 3, 2, 11))
    assert (sla.clock("next_response").state, sla.clock("next_response").instance) == ("fulfilled", 1)
    sla = customer_message(sla, shanghai(2026, 3, 2, 16))
    assert sla.clock("next_response").instance == 2
    assert sla.clock("next_response").due_at == shanghai(2026, 3, 3, 10)


def test_an_event_delivered_twice_changes_nothing_the_second_time():
    sla = opened(MONDAY_0900)
    reply = AgentReplied(next_id(), shanghai(2026, 3, 2, 9, 30))
    once = apply_event(sla, reply, default_context())
    assert apply_event(once, reply, default_context()) == once


def test_a_late_event_counts_at_the_latest_time_applied_so_clocks_never_run_backwards():
    sla = in_progress(MONDAY_0900)
    sla = status(sla, "wait_on_customer", shanghai(2026, 3, 2, 11))
    late_reply = AgentReplied(next_id(), shanghai(2026, 3, 2, 10))
    sla = apply_event(sla, late_reply, default_context())
    assert sla.clock("first_response").consumed_seconds == 2 * HOUR
    assert sla.clock("first_response").fulfilled_at == shanghai(2026, 3, 2, 11)
    assert sla.clock("resolution").consumed_seconds == 2 * HOUR
    assert sla.last_event_at == shanghai(2026, 3, 2, 11)


def test_an_illegal_transition_lists_what_the_current_state_allows():
    sla = status(opened(MONDAY_0900), "resolve", shanghai(2026, 3, 2, 10))
    with pytest.raises(IllegalTransition, match="allowed from resolved: reopen -> in_progress, close -> closed"):
        status(sla, "start", shanghai(2026, 3, 2, 11))


def test_five_thousand_complaints_opened_in_one_second_all_breach_in_the_same_second():
    openings = [shanghai(2026, 3, 2, 9, 0, 0, i * 199) for i in range(5000)]  # all within 09:00:00
    complaints = [opened(at, priority="urgent", complaint_id=f"c-{i}") for i, at in enumerate(openings)]
    dues = {c.clock("first_response").due_at.replace(microsecond=0) for c in complaints}
    assert dues == {shanghai(2026, 3, 2, 10)}
    breached = [observe(c, shanghai(2026, 3, 2, 10, 0, 1)) for c in complaints]
    assert all(c.clock("first_response").breached for c in breached)
    assert {c.clock("first_response").breached_at.replace(microsecond=0) for c in breached} == {shanghai(2026, 3, 2, 10)}
    assert compliance([c.clock("first_response") for c in breached], MONDAY_0900, shanghai(2026, 3, 3))["first_response"].ratio == 0


def test_every_complaint_event_carries_what_the_alerts_service_needs_per_metric():
    snapshots = opened(MONDAY_0900).metric_snapshots()
    assert [s["metric"] for s in snapshots] == ["first_response", "resolution"]
    assert snapshots[1] == {
        "metric": "resolution",
        "instance": 1,
        "state": "running",
        "breached": False,
        "due_at": "2026-03-03T09:00:00+00:00",  # 17:00 in Shanghai; stored instants are UTC
        "original_due_at": "2026-03-03T09:00:00+00:00",
        "consumed_seconds": 0,
        "target_seconds": 16 * HOUR,
    }


def test_a_complaint_sla_survives_its_json_form():
    sla = status(agent_reply(opened(MONDAY_0900), shanghai(2026, 3, 2, 9, 30)), "resolve", shanghai(2026, 3, 2, 11))
    assert ComplaintSla.from_dict(sla.to_dict()) == sla


def test_compliance_is_on_time_over_on_time_plus_breached_per_metric_in_the_period():
    on_time = agent_reply(opened(MONDAY_0900, priority="urgent"), shanghai(2026, 3, 2, 9, 30))
    late = agent_reply(opened(MONDAY_0900, priority="urgent"), shanghai(2026, 3, 2, 10, 30))
    still_open = observe(opened(MONDAY_0900, priority="urgent"), shanghai(2026, 3, 2, 11))
    clocks = [c.clock("first_response") for c in (on_time, late, still_open)]
    result = compliance(clocks, MONDAY_0900, shanghai(2026, 3, 3))["first_response"]
    assert (result.on_time, result.breached, result.ratio) == (1, 2, 1 / 3)
    assert compliance(clocks, shanghai(2026, 3, 3), shanghai(2026, 3, 4)) == {}


def test_resolving_while_waiting_on_the_customer_does_not_count_the_wait():
    sla = in_progress(MONDAY_0900)
    sla = status(sla, "wait_on_customer", shanghai(2026, 3, 2, 10))
    sla = status(sla, "resolve", shanghai(2026, 3, 2, 15))
    resolution = sla.clock("resolution")
    assert (resolution.state, resolution.consumed_seconds, resolution.paused_seconds) == ("fulfilled", HOUR, 5 * HOUR)


def test_an_event_carries_the_warning_moments_ahead_so_alerts_can_catch_up_after_a_restart():
    sla = opened(MONDAY_0900, priority="urgent")  # first_response and resolution: 1 h
    at_start = by_metric(event_payload(sla, default_context()))["first_response"]
    # Default warnings at 75 % and 90 % of the hour: 09:45 and 09:54 Shanghai (01:45, 01:54 UTC).
    assert at_start["warnings_at"] == ["2026-03-02T01:45:00+00:00", "2026-03-02T01:54:00+00:00"]
    assert at_start["due_at"] == "2026-03-02T02:00:00+00:00"
    # Alerts restarted at 09:50 compare the stored moments with now: 09:45 was missed (emit it
    # once, stamped 09:45), 09:54 and the 10:00 deadline are still ahead. A later event carries
    # only what is still ahead.
    paused = statuses(sla, shanghai(2026, 3, 2, 9, 50), "acknowledge", "start", "wait_on_customer")
    payload = by_metric(event_payload(paused, default_context()))
    assert payload["first_response"]["warnings_at"] == ["2026-03-02T01:54:00+00:00"]
    assert payload["resolution"]["warnings_at"] == []  # paused: no timers at all
    assert payload["resolution"]["due_at"] is None


def test_becoming_a_gold_customer_while_waiting_on_a_third_party_pauses_resolution_then():
    sla = in_progress(MONDAY_0900)
    sla = status(sla, "wait_on_third_party", shanghai(2026, 3, 2, 10))
    assert sla.clock("resolution").state == "running"  # the standard policy does not pause here
    becomes_gold = AttributesChanged(next_id(), shanghai(2026, 3, 2, 11), ComplaintAttributes("normal", "gold"))
    gold = apply_event(sla, becomes_gold, default_context())
    resolution = gold.clock("resolution")
    # Gold: resolution 8 h; 2 h consumed when the pause begins at 11:00.
    assert gold.policy_id == "gold-customers"
    assert (resolution.state, resolution.consumed_seconds, resolution.target_seconds) == ("paused", 2 * HOUR, 8 * HOUR)


def by_metric(snapshots: list[dict]) -> dict[str, dict]:
    return {snapshot["metric"]: snapshot for snapshot in snapshots}


def test_the_core_snapshots_are_the_published_contracts_metric_list():
    sla = opened(MONDAY_0900, priority="urgent")
    snapshots = [SlaMetricSnapshot.model_validate(s) for s in event_payload(sla, default_context())]
    assert [(s.metric, s.state, s.target_seconds) for s in snapshots] == [("first_response", "running", HOUR), ("resolution", "running", HOUR)]
