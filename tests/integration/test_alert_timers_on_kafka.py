"""Complaint SLA alerts on real Kafka, from an alerts service run as its own process: a breach is
on `pulse.alerts` within a second of its deadline, once; a complaint answered in time raises
nothing; and after a `kill -9` between warning and deadline the breach still fires, once."""

import json
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet

from services.common import catalog
from services.common.events import envelope_for, to_message
from services.common.kafka_bus import KafkaBus
from tests.integration.kafka_tools import read_topics
from tests.integration.service_process import ServiceProcess

pytestmark = [pytest.mark.kafka]


def alerts_process(tmp_path, kafka_bootstrap) -> tuple[ServiceProcess, dict]:
    suffix = os.urandom(3).hex()
    env = {
        "PULSE_BUS": "kafka", "PULSE_KAFKA_BOOTSTRAP": kafka_bootstrap, "PULSE_DATA_DIR": str(tmp_path),
        "PULSE_AUTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}",
        "PULSE_ALERTS_SECRET_KEYS": Fernet.generate_key().decode(), "PULSE_KAFKA_PARTITIONS": "3",
        "PULSE_TOPIC_COMPLAINTS": f"t{suffix}.complaints", "PULSE_TOPIC_ALERTS": f"t{suffix}.alerts",
    }
    for name in ("customers", "purchases", "interactions", "feedback", "scores"):
        env[f"PULSE_TOPIC_{name.upper()}"] = f"t{suffix}.{name}"
    return ServiceProcess("alerts", env, tmp_path / "alerts.log"), env


async def send_complaint(kafka_bootstrap: str, topic: str, event_class, *, complaint_id: str, due: datetime,
                         warnings=(), state="running", status="open") -> None:
    now = datetime.now(UTC)
    snapshot = catalog.SlaMetricSnapshot(metric="first_response", state=state, breached=False, due_at=due,
                                         consumed_seconds=0, target_seconds=(due - now).total_seconds(), warnings_at=list(warnings))
    payload = event_class(customer_id=f"cust-{complaint_id}", complaint_id=complaint_id, status=status, priority="urgent",
                          sla=[snapshot], changed_at=now)
    bus = KafkaBus(bootstrap=kafka_bootstrap, client_id="test-feedback", partitions=3, topics=[topic])
    await bus.ensure_topics([topic])
    try:
        await bus.publish([to_message(envelope_for(payload, source="/pulse/feedback"), topic)])
    finally:
        await bus.stop()


def alert_records(records, kind: str, complaint_id: str) -> list:
    """One entry per event id: delivery is at least once (a relay killed between the broker's ack
    and marking its row sent sends that event again, same id), and subscribers de-duplicate on id."""
    found = {}
    for record in records:
        data = json.loads(record.value)
        if data.get("kind") == kind and data.get("facts", {}).get("complaint_id") == complaint_id:
            found.setdefault(dict(record.headers)["ce_id"], (record, data))
    return list(found.values())


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


async def test_a_breach_is_on_pulse_alerts_within_a_second_of_its_deadline_once(tmp_path, kafka_bootstrap):
    service, env = alerts_process(tmp_path, kafka_bootstrap)
    service.start()
    try:
        due = datetime.now(UTC) + timedelta(seconds=12)
        topic = env["PULSE_TOPIC_COMPLAINTS"]
        await send_complaint(kafka_bootstrap, topic, catalog.ComplaintOpened, complaint_id="late", due=due)
        answered_due = datetime.now(UTC) + timedelta(seconds=8)
        await send_complaint(kafka_bootstrap, topic, catalog.ComplaintOpened, complaint_id="answered", due=answered_due)
        await send_complaint(kafka_bootstrap, topic, catalog.ComplaintUpdated, complaint_id="answered", due=answered_due,
                             state="fulfilled")
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 4)  # past the deadline, room for a double
        records = await read_topics(kafka_bootstrap, [env["PULSE_TOPIC_ALERTS"]], until=lambda r: False, timeout=5)
    finally:
        service.stop()
    [(record, data)] = alert_records(records, "sla_breached", "late")
    published = datetime.fromtimestamp(record.timestamp / 1000, UTC)
    assert timedelta(0) <= published - due < timedelta(seconds=1), f"published {published - due} after the deadline"
    assert parse(data["due_at"]) == due and timedelta(0) <= parse(data["detected_at"]) - due < timedelta(seconds=1)
    assert alert_records(records, "sla_breached", "answered") == []


async def test_kill_9_between_warning_and_deadline_still_breaches_once_after_restart(tmp_path, kafka_bootstrap):
    service, env = alerts_process(tmp_path, kafka_bootstrap)
    service.start()
    try:
        now = datetime.now(UTC)
        warning, due = now + timedelta(seconds=6), now + timedelta(seconds=14)
        await send_complaint(kafka_bootstrap, env["PULSE_TOPIC_COMPLAINTS"], catalog.ComplaintOpened, complaint_id="crash",
                             due=due, warnings=[warning])
        warned = await read_topics(kafka_bootstrap, [env["PULSE_TOPIC_ALERTS"]], timeout=30,
                                   until=lambda r: bool(alert_records(r, "sla_warning", "crash")))
        assert len(alert_records(warned, "sla_warning", "crash")) == 1
        service.kill()
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1)  # down when it is due
        service.start()
        records = await read_topics(kafka_bootstrap, [env["PULSE_TOPIC_ALERTS"]], timeout=30,
                                    until=lambda r: bool(alert_records(r, "sla_breached", "crash")))
        time.sleep(2)
        records = await read_topics(kafka_bootstrap, [env["PULSE_TOPIC_ALERTS"]], until=lambda r: False, timeout=4)
    finally:
        service.stop()
    [(_, breach)] = alert_records(records, "sla_breached", "crash")
    assert len(alert_records(records, "sla_warning", "crash")) == 1
    assert parse(breach["due_at"]) == due and parse(breach["detected_at"]) > due  # found after the restart
