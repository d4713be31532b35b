"""Complaints through the HTTP API, with a clock the tests move."""

from datetime import timedelta

HOUR = 3600


def by_metric(complaint: dict) -> dict[str, dict]:
    return {m["metric"]: m for m in complaint["sla"]}


async def open_complaint(feedback, **fields) -> dict:
    response = await feedback.client.post("/v1/complaints", json={"customer_id": "c-1", **fields}, headers=feedback.auth())
    assert response.status_code == 201, response.text
    return response.json()


async def act(feedback, complaint_id: str, action: str, expect: int = 200, **body) -> dict:
    response = await feedback.client.post(f"/v1/complaints/{complaint_id}:{action}", json=body or None, headers=feedback.auth())
    assert response.status_code == expect, response.text
    return response.json()


async def test_a_complaint_opens_with_the_default_priority_and_its_deadlines(feedback):
    complaint = await open_complaint(feedback, description="the fridge is broken")
    assert (complaint["status"], complaint["priority"], complaint["policy_id"]) == ("open", "normal", "default")
    metrics = by_metric(complaint)
    assert metrics["first_response"]["due_at"] == "2026-03-02T09:00:00Z"  # 8 h after 09:00 Shanghai (01:00 UTC)
    assert metrics["resolution"]["target_seconds"] == 72 * HOUR
    assert complaint["history"][0]["action"] == "open"


async def test_the_resolution_clock_stops_while_waiting_on_the_customer(feedback, clock):
    complaint = await open_complaint(feedback)
    cid = complaint["id"]
    await act(feedback, cid, "acknowledge")
    await act(feedback, cid, "start")
    clock.advance(timedelta(hours=1))
    await act(feedback, cid, "wait", on="customer", reason="asked for the invoice")
    clock.advance(timedelta(hours=5))
    paused = by_metric(await act(feedback, cid, "resume"))["resolution"]
    assert (paused["state"], paused["consumed_seconds"], paused["paused_seconds"]) == ("running", HOUR, 5 * HOUR)
    resolved = await act(feedback, cid, "resolve")
    assert resolved["status"] == "resolved"
    assert [h["action"] for h in resolved["history"]] == ["open", "acknowledge", "start", "wait_on_customer", "resume", "resolve"]
    assert resolved["history"][3]["reason"] == "asked for the invoice"
