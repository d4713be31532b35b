"""Events the feedback service consumes (tier.changed, customer.erased) and its durable timers."""

import asyncio
from datetime import datetime, timedelta, timezone

from services.common.catalog import CustomerErased, TierChanged, topic_of
from services.common.events import envelope_for, to_message
from tests.feedback.test_complaints_api import act, by_metric, open_complaint
from tests.feedback.test_surveys_api import create_survey, invite, record, results

HOUR = 3600


async def deliver(feedback, payload, envelope=None):
    envelope = envelope or envelope_for(payload, source="/pulse/test")
    await feedback.platform.bus.publish([to_message(envelope, topic_of(payload.event_type, feedback.context.settings.topics))])
    return envelope


async def eventually(check, attempts: int = 50):
    """Timers fire in their own transaction; on PostgreSQL the loop may hold one a moment longer."""
    for _ in range(attempts):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never held")


GOLD_POLICIES = {"default_priority": "normal", "policies": [
    {"id": "gold", "position": 1, "conditions": {"tier": ["high"]},
     "targets": {"first_response": {"normal": {"seconds": HOUR}}, "resolution": {"normal": {"seconds": 4 * HOUR}}}},
    {"id": "standard", "position": 2, "default": True,
     "targets": {"first_response": {"normal": {"seconds": 8 * HOUR}}, "resolution": {"normal": {"seconds": 72 * HOUR}}}},
]}


async def test_a_tier_change_rematches_open_complaints_once_even_when_delivered_twice_and_late_ones_are_ignored(feedback, clock):
    assert (await feedback.client.put("/v1/sla-policies", json=GOLD_POLICIES, headers=feedback.auth())).status_code == 200
    cid = (await open_complaint(feedback))["id"]
    assert (await feedback.client.get(f"/v1/complaints/{cid}", headers=feedback.auth())).json()["policy_id"] == "standard"
    changed_at = clock.now()
    envelope = await deliver(feedback, TierChanged(customer_id="c-1", tier="high", changed_at=changed_at))
    await deliver(feedback, TierChanged(customer_id="c-1", tier="high", changed_at=changed_at), envelope)  # the same event again
    complaint = (await feedback.client.get(f"/v1/complaints/{cid}", headers=feedback.auth())).json()
    assert (complaint["tier"], complaint["policy_id"], by_metric(complaint)["first_response"]["target_seconds"]) == ("high", "gold", HOUR)
    assert [h["action"] for h in complaint["history"]] == ["open", "tier_changed"]
    await deliver(feedback, TierChanged(customer_id="c-1", tier="low", changed_at=changed_at - timedelta(days=1)))  # late
    assert (await feedback.client.get(f"/v1/complaints/{cid}", headers=feedback.auth())).json()["tier"] == "high"
    later = await open_complaint(feedback)
    assert (later["tier"], later["policy_id"]) == ("high", "gold")


async def test_an_erased_customer_loses_free_text_and_keeps_counts(feedback):
    complaint = await open_complaint(feedback, description="my address is ...")
    await act(feedback, complaint["id"], "acknowledge", reason="spoke to her at home")
    survey = await create_survey(feedback, "csat")
    await record(feedback, survey["id"], 5, comment="lovely staff")
    feedback_item = await feedback.client.post("/v1/feedback", json={"customer_id": "c-1", "channel": "email", "category": "x", "text": "hello"},
                                               headers=feedback.auth())
    await deliver(feedback, CustomerErased(customer_id="c-1", erased_at=datetime(2026, 3, 2, tzinfo=timezone.utc)))
    after = (await feedback.client.get(f"/v1/complaints/{complaint['id']}", headers=feedback.auth())).json()
    assert after["description"] is None and [h["reason"] for h in after["history"]] == [None, None]
    assert after["status"] == "acknowledged"
    found = await results(feedback, survey["id"])
    assert (found["responses"], found["score"]) == (1, 100)
    items = (await feedback.client.get("/v1/feedback", headers=feedback.auth())).json()["items"]
    assert [(i["id"], i["text"]) for i in items] == [(feedback_item.json()["id"], None)]


async def csat_invitations(feedback) -> int:
    response = await feedback.client.get("/v1/surveys/complaint-csat/results", headers=feedback.auth())
    return response.json()["invitations_sent"] if response.status_code == 200 else 0


async def test_a_csat_invitation_follows_a_resolved_complaint_after_a_day(feedback, clock):
    cid = (await open_complaint(feedback))["id"]
    await act(feedback, cid, "resolve")
    clock.advance(timedelta(hours=23))
    await feedback.fire_due_timers()
    assert await csat_invitations(feedback) == 0
    clock.advance(timedelta(hours=1))
    await eventually(lambda: _fired_and(feedback, csat_invitations, 1))


async def test_reopening_before_the_day_is_over_cancels_the_csat_invitation_and_resolve_without_survey_sends_none(feedback, clock):
    first = (await open_complaint(feedback))["id"]
    await act(feedback, first, "resolve")
    clock.advance(timedelta(hours=2))
    await act(feedback, first, "reopen")
    second = (await open_complaint(feedback, customer_id="c-2"))["id"]
    await act(feedback, second, "resolve", without_survey=True)
    clock.advance(timedelta(days=2))
    await feedback.fire_due_timers()
    await asyncio.sleep(0.1)
    await feedback.fire_due_timers()
    assert await csat_invitations(feedback) == 0


async def test_a_resolved_complaint_nobody_closes_is_closed_after_the_auto_close_days(feedback, clock):
    cid = (await open_complaint(feedback))["id"]
    await act(feedback, cid, "resolve", without_survey=True)
    clock.advance(timedelta(days=7, seconds=1))

    async def closed():
        await feedback.fire_due_timers()
        complaint = (await feedback.client.get(f"/v1/complaints/{cid}", headers=feedback.auth())).json()
        return complaint if complaint["status"] == "closed" else None

    complaint = await eventually(closed)
    assert (complaint["history"][-1]["actor"], complaint["history"][-1]["changes"]) == ("system", {"auto_close_after_days": 7})


async def _fired_and(feedback, count, expected: int) -> bool:
    await feedback.fire_due_timers()
    return await count(feedback) == expected


async def test_a_throttled_customer_gets_no_csat_invitation_after_resolve(feedback, clock):
    survey = await create_survey(feedback, "nps")
    await invite(feedback, survey["id"])
    cid = (await open_complaint(feedback))["id"]
    await act(feedback, cid, "resolve")
    clock.advance(timedelta(hours=25))
    await feedback.fire_due_timers()
    await asyncio.sleep(0.1)
    assert await csat_invitations(feedback) == 0
