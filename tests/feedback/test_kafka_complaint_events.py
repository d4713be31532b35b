"""Complaint events on a real Kafka broker: deadlines and states, no personal data, and a calendar
change republishes the moved deadlines."""

import json
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from services.common.clock import ManualClock
from services.common.events import Message, from_message
from tests.harness import service_harness, settings_for_tests
from tests.integration.kafka_tools import read_topics

pytestmark = pytest.mark.kafka
HOUR = 3600
SECRET = "张伟 13912345678 住在北京市朝阳区"
OFFICE = {"time_zone": "Asia/Shanghai", "weekly": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}}
POLICIES = {"policies": [{"id": "standard", "position": 1, "default": True, "targets": {
    "first_response": {"normal": {"seconds": 4 * HOUR, "calendar": "office"}},
    "resolution": {"normal": {"seconds": 16 * HOUR, "calendar": "office"}}}}]}


def first_response(envelope) -> dict:
    return next(m for m in envelope.data["sla"] if m["metric"] == "first_response")


async def test_complaint_events_reach_kafka_with_deadlines_and_states_and_a_calendar_change_republishes_them(tmp_path, kafka_bootstrap):
    settings = settings_for_tests(tmp_path, bus="kafka", kafka_bootstrap=kafka_bootstrap)
    customer = f"kafka-{uuid.uuid4().hex}"
    clock = ManualClock(datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Asia/Shanghai")))
    async with service_harness("feedback", settings, clock=clock, survey_link_key="kafka-test-link-key") as feedback:
        auth = feedback.auth()
        assert (await feedback.client.put("/v1/calendars/office", json=OFFICE, headers=auth)).status_code == 200
        assert (await feedback.client.put("/v1/sla-policies", json=POLICIES, headers=auth)).status_code == 200
        opened = await feedback.client.post("/v1/complaints", json={"customer_id": customer, "description": SECRET}, headers=auth)
        cid = opened.json()["id"]
        await feedback.client.post(f"/v1/complaints/{cid}:acknowledge", json={"reason": SECRET}, headers=auth)
        clock.advance(2 * HOUR)
        shorter = {**OFFICE, "weekly": {**OFFICE["weekly"], "mon": [["09:00", "10:00"]]}}
        assert (await feedback.client.put("/v1/calendars/office", json=shorter, headers=auth)).json()["recomputed_complaints"] == 1

        def arrived(records) -> bool:
            return sum(1 for r in records if r.key == customer.encode()) >= 3

        records = await read_topics(kafka_bootstrap, [settings.topics.complaints], until=arrived, timeout=60)
    mine = [r for r in records if r.key == customer.encode()]
    envelopes = [from_message(Message(r.topic, r.key, r.value, tuple(r.headers))) for r in mine]
    assert [e.type for e in envelopes] == ["pulse.complaint.opened.v1", "pulse.complaint.updated.v1", "pulse.complaint.updated.v1"]
    first = first_response(envelopes[0])
    assert (first["state"], first["breached"], first["target_seconds"], first["due_at"]) == ("running", False, 4 * HOUR, "2026-03-02T05:00:00Z")
    assert envelopes[1].data["status"] == "acknowledged"
    moved = first_response(envelopes[2])
    # 2 h consumed are kept; the 2 h left start Monday 11:00, closed under the new version: Tuesday 11:00.
    assert (moved["due_at"], moved["original_due_at"], moved["consumed_seconds"]) == ("2026-03-03T03:00:00Z", "2026-03-02T05:00:00Z", 2 * HOUR)
    for record in mine:
        wire = record.value.decode() + " ".join(value.decode() for _, value in record.headers)
        for needle in SECRET.split():
            assert needle not in wire and json.dumps(needle)[1:-1] not in wire
