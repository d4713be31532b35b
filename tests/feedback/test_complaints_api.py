"""Complaints through the HTTP API, with a clock the tests move."""

import asyncio
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


async def test_an_illegal_transition_is_a_409_listing_the_transitions_allowed(feedback):
    cid = (await open_complaint(feedback))["id"]
    response = await feedback.client.post(f"/v1/complaints/{cid}:reopen", headers=feedback.auth())
    assert response.status_code == 409
    problem = response.json()
    assert (problem["complaint_status"], problem["allowed_transitions"]) == ("open", ["acknowledge", "resolve", "reply"])
    assert "cannot reopen a complaint that is open" in problem["detail"]
    await act(feedback, cid, "resolve", without_survey=True)
    await act(feedback, cid, "close")
    final = await feedback.client.post(f"/v1/complaints/{cid}:reply", json={"from": "customer"}, headers=feedback.auth())
    assert (final.status_code, final.json()["allowed_transitions"]) == (409, [])


async def test_a_change_based_on_a_stale_etag_is_refused_with_412_and_changes_nothing(feedback):
    complaint = await open_complaint(feedback)
    cid, stale = complaint["id"], f'"{complaint["version"]}"'
    fresh = await feedback.client.patch(f"/v1/complaints/{cid}", json={"assignee": "agent-7"}, headers={**feedback.auth(), "If-Match": stale})
    assert fresh.status_code == 200 and fresh.headers["ETag"] == f'"{complaint["version"] + 1}"'
    response = await feedback.client.patch(f"/v1/complaints/{cid}", json={"priority": "high"}, headers={**feedback.auth(), "If-Match": stale})
    assert response.status_code == 412
    assert response.json()["errors"][0]["field"] == "If-Match"
    transition = await feedback.client.post(f"/v1/complaints/{cid}:acknowledge", headers={**feedback.auth(), "If-Match": stale})
    assert transition.status_code == 412
    now = (await feedback.client.get(f"/v1/complaints/{cid}", headers=feedback.auth())).json()
    assert (now["priority"], now["status"], now["assignee"]) == ("normal", "open", "agent-7")


async def test_complaints_are_listed_by_status_priority_assignee_customer_and_breach_in_cursor_pages(feedback, clock):
    for number in range(5):
        await open_complaint(feedback, customer_id=f"c-{number % 2}", priority="urgent" if number < 2 else "normal", assignee="ann")
    clock.advance(timedelta(hours=1, seconds=1))  # urgent first responses (1 h) are now late
    await open_complaint(feedback, customer_id="c-9")

    async def ids(**params) -> list[str]:
        found, cursor = [], None
        while True:
            page = (await feedback.client.get("/v1/complaints", params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})},
                                              headers=feedback.auth())).json()
            found += [c["customer_id"] + "/" + c["priority"] for c in page["items"]]
            if (cursor := page["next_cursor"]) is None:
                return found

    assert len(await ids()) == 6
    assert await ids(breached="true") == ["c-0/urgent", "c-1/urgent"]
    assert len(await ids(breached="false")) == 4
    assert await ids(customer_id="c-9") == ["c-9/normal"]
    assert len(await ids(priority="normal", assignee="ann", status="open")) == 3


async def test_a_new_calendar_version_recomputes_open_complaints_and_publishes_their_moved_deadlines(feedback, clock):
    office = {"time_zone": "Asia/Shanghai", "weekly": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}}
    targets = {"first_response": {"normal": {"seconds": 4 * HOUR, "calendar": "office"}},
               "resolution": {"normal": {"seconds": 16 * HOUR, "calendar": "office"}}}
    assert (await feedback.client.put("/v1/calendars/office", json=office, headers=feedback.auth())).status_code == 200
    policy = {"policies": [{"id": "standard", "position": 1, "default": True, "targets": targets}]}
    assert (await feedback.client.put("/v1/sla-policies", json=policy, headers=feedback.auth())).status_code == 200
    cid = (await open_complaint(feedback))["id"]  # Monday 09:00: first response due 13:00
    clock.advance(timedelta(hours=2))
    longer = {**office, "weekly": {**office["weekly"], "mon": [["09:00", "10:00"]]}}  # Monday now ends at 10:00
    response = await feedback.client.put("/v1/calendars/office", json=longer, headers=feedback.auth())
    assert (response.status_code, response.json()["version"], response.json()["recomputed_complaints"]) == (200, 2, 1)
    first = by_metric((await feedback.client.get(f"/v1/complaints/{cid}", headers=feedback.auth())).json())["first_response"]
    # 2 h consumed under version 1 are kept; 2 h remain from Monday 11:00, closed on version 2: Tuesday 11:00.
    assert (first["consumed_seconds"], first["due_at"]) == (2 * HOUR, "2026-03-03T03:00:00Z")
    await feedback.drain_outbox()
    moved = feedback.recorder.events("pulse.complaint.updated.v1")[-1]
    assert moved.subject == "c-1"
    assert next(m for m in moved.data["sla"] if m["metric"] == "first_response")["due_at"] == "2026-03-03T03:00:00Z"


async def test_analysts_read_complaints_without_free_text_and_cannot_change_them(feedback):
    cid = (await open_complaint(feedback, description="my neighbour's dog"))["id"]
    await act(feedback, cid, "acknowledge", reason="called the customer back")
    analyst = feedback.auth(await feedback.key_for("analyst"))
    seen = (await feedback.client.get(f"/v1/complaints/{cid}", headers=analyst)).json()
    assert seen["description"] is None and all(h["reason"] is None for h in seen["history"])
    assert (await feedback.client.post(f"/v1/complaints/{cid}:start", headers=analyst)).status_code == 403
    agent = feedback.auth(await feedback.key_for("agent"))
    assert (await feedback.client.get(f"/v1/complaints/{cid}", headers=agent)).json()["description"] == "my neighbour's dog"
    assert (await feedback.client.post(f"/v1/complaints/{cid}:start", headers=agent)).status_code == 200
    assert (await feedback.client.put("/v1/sla-policies", json={"policies": [{}]}, headers=agent)).status_code == 403


async def test_complaint_events_carry_no_free_text(feedback):
    cid = (await open_complaint(feedback, description="secret words"))["id"]
    await act(feedback, cid, "reply", **{"from": "customer", "message": "more secret words"})
    await feedback.drain_outbox()
    for event in feedback.recorder.events():
        assert "secret" not in str(event.data)


async def test_a_message_after_close_goes_into_a_new_complaint_linked_to_the_closed_one(feedback):
    closed = (await open_complaint(feedback))["id"]
    await act(feedback, closed, "resolve", without_survey=True)
    await act(feedback, closed, "close")
    follow_up = await open_complaint(feedback, linked_to=closed)
    assert (follow_up["linked_to"], follow_up["status"], follow_up["history"][0]["changes"]) == (closed, "open", {"linked_to": closed})
    unknown = await feedback.client.post("/v1/complaints", json={"customer_id": "c-1", "linked_to": "nope"}, headers=feedback.auth())
    assert (unknown.status_code, unknown.json()["errors"][0]["field"]) == (404, "linked_to")


async def test_a_new_policy_version_rematches_open_complaints_from_their_start_and_publishes_them(feedback, clock):
    cid = (await open_complaint(feedback))["id"]  # default policies: first response 8 h
    clock.advance(timedelta(hours=3))
    tighter = {"policies": [{"id": "tight", "position": 1, "default": True, "targets": {"first_response": {"normal": {"seconds": 2 * HOUR}}}}]}
    response = await feedback.client.put("/v1/sla-policies", json=tighter, headers=feedback.auth())
    assert (response.status_code, response.json()["version"], response.json()["recomputed_complaints"]) == (200, 1, 1)
    complaint = (await feedback.client.get(f"/v1/complaints/{cid}", headers=feedback.auth())).json()
    first = by_metric(complaint)["first_response"]
    assert (complaint["policy_id"], complaint["policy_version"], first["breached"], first["breach_cause"]) == ("tight", 1, True, "retarget")
    assert by_metric(complaint)["resolution"]["state"] == "cancelled"  # the new policy has no resolution target
    assert (await feedback.client.get("/v1/sla-policies", headers=feedback.auth())).json()["policies"][0]["id"] == "tight"
    await feedback.drain_outbox()
    assert feedback.recorder.events("pulse.complaint.updated.v1")[-1].data["policy_id"] == "tight"


async def test_two_managers_storing_a_calendar_at_once_never_get_a_server_error(feedback):
    office = {"time_zone": "Asia/Shanghai", "weekly": {"mon": [["09:00", "17:00"]]}}
    answers = await asyncio.gather(*(feedback.client.put("/v1/calendars/office", json=office, headers=feedback.auth()) for _ in range(3)))
    assert sorted(a.status_code for a in answers) in ([200, 200, 200], [200, 200, 409], [200, 409, 409])
    versions = sorted(a.json()["version"] for a in answers if a.status_code == 200)
    assert versions == list(range(1, len(versions) + 1))
