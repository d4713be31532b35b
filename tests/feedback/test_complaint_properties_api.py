"""Random sequences of API transitions and waits: the resolution clock never counts paused time,
never runs backwards, and a breached metric never turns back."""

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.feedback.test_complaints_api import by_metric, open_complaint

# Resolution runs in these states (the default policy does not pause on third parties) and is
# paused or settled in the others.
RUNS_IN = {"open", "acknowledged", "in_progress", "waiting_on_third_party"}
REQUESTS = {
    "acknowledge": ("post", ":acknowledge", None),
    "start": ("post", ":start", None),
    "wait_on_customer": ("post", ":wait", {"on": "customer"}),
    "wait_on_third_party": ("post", ":wait", {"on": "third_party"}),
    "resume": ("post", ":resume", None),
    "resolve": ("post", ":resolve", {"without_survey": True}),
    "reopen": ("post", ":reopen", None),
    "close": ("post", ":close", None),
    "agent_reply": ("post", ":reply", {"from": "agent"}),
    "customer_message": ("post", ":reply", {"from": "customer"}),
    "urgent": ("patch", "", {"priority": "urgent"}),
    "normal": ("patch", "", {"priority": "normal"}),
}
OFFERED = {"wait": ("wait_on_customer", "wait_on_third_party"), "reply": ("agent_reply", "customer_message")}


def next_action(data, allowed: list[str]) -> str:
    """Mostly a transition the complaint offers (so that deep states are reached), sometimes any."""
    if not allowed or data.draw(st.integers(0, 4), label="anything") == 0:
        return data.draw(st.sampled_from(sorted(REQUESTS)), label="action")
    offered = [a for name in allowed for a in OFFERED.get(name, (name,))] + ["urgent", "normal"]
    return data.draw(st.sampled_from(offered), label="action")


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
async def test_random_transitions_and_waits_keep_the_clock_rules(feedback, clock, data):
    complaint = await open_complaint(feedback)
    cid, status = complaint["id"], complaint["status"]
    expected_consumed = 0.0
    last_consumed = 0.0
    breached_before: set[tuple[str, int]] = set()
    for _ in range(data.draw(st.integers(1, 16), label="steps")):
        action = next_action(data, complaint["allowed_transitions"])
        wait_seconds = data.draw(st.integers(0, 12 * 3600), label="wait")
        clock.advance(timedelta(seconds=wait_seconds))
        if status in RUNS_IN:
            expected_consumed += wait_seconds
        method, suffix, body = REQUESTS[action]
        response = await getattr(feedback.client, method)(f"/v1/complaints/{cid}{suffix}", json=body, headers=feedback.auth())
        assert response.status_code in (200, 409), response.text
        if response.status_code == 409:
            assert response.json()["complaint_status"] == status  # refused, nothing changed
            continue
        complaint = response.json()
        status = complaint["status"]
        resolution = by_metric(complaint)["resolution"]
        assert abs(resolution["consumed_seconds"] - expected_consumed) < 1e-3, resolution
        assert resolution["consumed_seconds"] >= last_consumed
        last_consumed = resolution["consumed_seconds"]
        breached_now = {(m["metric"], m["instance"]) for m in complaint["sla"] if m["breached"]}
        assert breached_before <= breached_now, "a breached metric turned back"
        breached_before = breached_now
