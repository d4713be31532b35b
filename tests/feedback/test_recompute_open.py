"""A new calendar version over many open complaints: in chunks, only
moved deadlines published; and the stored SLA state stays the same size however long it lives."""

from datetime import timedelta

from services.feedback import complaint_recompute
from services.feedback.complaints.sla_state import RECENT_EVENT_IDS, AgentReplied, ComplaintSla, apply_event
from tests.feedback.calendars_fixtures import shanghai
from tests.feedback.sla_fixtures import default_context, next_id, opened

HOUR = 3600
OFFICE = {"time_zone": "Asia/Shanghai", "weekly": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}}
TARGETS = {"first_response": {"normal": {"seconds": 4 * HOUR, "calendar": "office"}},
           "resolution": {"normal": {"seconds": 16 * HOUR, "calendar": "office"}}}


async def test_a_calendar_change_over_several_chunks_publishes_only_the_moved_deadlines(feedback, clock, monkeypatch):
    monkeypatch.setattr(complaint_recompute, "CHUNK", 2)
    auth = feedback.auth()
    assert (await feedback.client.put("/v1/calendars/office", json=OFFICE, headers=auth)).status_code == 200
    policy = {"policies": [{"id": "standard", "position": 1, "default": True, "targets": TARGETS}]}
    assert (await feedback.client.put("/v1/sla-policies", json=policy, headers=auth)).status_code == 200
    running = [(await feedback.client.post("/v1/complaints", json={"customer_id": f"c-{n}"}, headers=auth)).json()["id"] for n in range(4)]
    waiting = (await feedback.client.post("/v1/complaints", json={"customer_id": "c-waiting"}, headers=auth)).json()["id"]
    for action, body in ((":reply", {"message": "we are on it"}), (":acknowledge", None), (":start", None), (":wait", {"on": "customer"})):
        assert (await feedback.client.post(f"/v1/complaints/{waiting}{action}", json=body, headers=auth)).status_code == 200
    await feedback.drain_outbox()
    published_before = len(feedback.recorder.events("pulse.complaint.updated.v1"))
    clock.advance(timedelta(hours=2))  # Monday 11:00
    shorter = {**OFFICE, "weekly": {**OFFICE["weekly"], "mon": [["09:00", "10:00"]]}}
    response = await feedback.client.put("/v1/calendars/office", json=shorter, headers=auth)
    # The running complaints' first responses move; the waiting one's clocks are fulfilled and paused.
    assert (response.status_code, response.json()["recomputed_complaints"]) == (200, 4)
    await feedback.drain_outbox()
    moved = feedback.recorder.events("pulse.complaint.updated.v1")[published_before:]
    assert sorted(e.data["complaint_id"] for e in moved) == sorted(running)
    for cid in running:
        complaint = (await feedback.client.get(f"/v1/complaints/{cid}", headers=auth)).json()
        first = next(m for m in complaint["sla"] if m["metric"] == "first_response")
        # 2 h consumed under version 1 are kept; 2 h remain from Monday 11:00, closed on version 2: Tuesday 11:00.
        assert (first["consumed_seconds"], first["due_at"]) == (2 * HOUR, "2026-03-03T03:00:00Z")
        assert [h["action"] for h in complaint["history"]] == ["open", "recompute"]
    quiet = (await feedback.client.get(f"/v1/complaints/{waiting}", headers=auth)).json()
    assert "recompute" not in [h["action"] for h in quiet["history"]]
    resolution = next(m for m in quiet["sla"] if m["metric"] == "resolution")
    # Its paused time was still settled on version 1 (09:00 to 11:00), not counted again on version 2.
    assert (resolution["state"], resolution["paused_seconds"]) == ("paused", 2 * HOUR)


def test_the_stored_sla_state_keeps_the_latest_event_ids_and_a_count_however_many_events_came():
    ctx = default_context()
    sla = opened(shanghai(2026, 3, 2, 9))
    replies = [AgentReplied(next_id(), shanghai(2026, 3, 2, 9) + timedelta(minutes=1 + n), public=False) for n in range(2 * RECENT_EVENT_IDS)]
    for reply in replies:
        sla = apply_event(sla, reply, ctx)
    stored = sla.to_dict()
    assert (len(stored["recent_event_ids"]), stored["applied_events"]) == (RECENT_EVENT_IDS, 2 * RECENT_EVENT_IDS + 1)
    assert ComplaintSla.from_dict(stored) == sla
    assert apply_event(sla, replies[-RECENT_EVENT_IDS], ctx) is sla  # a recent event delivered again changes nothing


def test_a_state_stored_with_every_event_id_reads_as_its_latest_ids_and_their_count():
    sla = opened(shanghai(2026, 3, 2, 9))
    ids = sorted(next_id() for _ in range(RECENT_EVENT_IDS + 10))
    stored = {key: value for key, value in sla.to_dict().items() if key not in ("recent_event_ids", "applied_events")}
    old = ComplaintSla.from_dict({**stored, "applied_event_ids": ids})
    assert (old.recent_event_ids, old.applied_events) == (tuple(ids[-RECENT_EVENT_IDS:]), RECENT_EVENT_IDS + 10)
