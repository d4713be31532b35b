"""No personal data in any Kafka message or log line."""

import io
import logging

import pytest

from services.common.bootstrap import all_topics
from services.common.observability import configure_logging
from tests.harness import profiles_service, settings_for_tests
from tests.integration.kafka_tools import read_topics

pytestmark = pytest.mark.kafka

PEOPLE = [
    {"external_id": "pii-1", "name": "欧阳娜娜", "email": "ouyang.nana@example.cn", "phone": "13912345678",
     "address": "广州市天河区珠江新城花城大道68号"},
    {"external_id": "pii-2", "name": "Maximilian Quagmire", "email": "max.quagmire@example.org", "phone": "+44 20 7946 0958",
     "address": "221B Baker Street, London"},
]
NOTE = "客户抱怨快递员态度差，要求回电 13912345678"


def _needles() -> list[str]:
    needles = [NOTE, "13912345678", "+8613912345678", "+442079460958", "7946 0958"]
    for person in PEOPLE:
        needles += [person["name"], person["email"], person["address"]]
    needles += [part for person in PEOPLE for part in person["name"].split()]
    return needles


async def test_no_personal_data_in_any_topic_or_log_line(tmp_path, kafka_bootstrap):
    captured = io.StringIO()
    configure_logging("DEBUG", stream=captured)
    settings = settings_for_tests(tmp_path, bus="kafka", kafka_bootstrap=kafka_bootstrap, log_level="DEBUG")
    try:
        async with profiles_service(settings) as profiles:
            ids = []
            for person in PEOPLE:
                response = await profiles.client.post("/v1/customers", json=person, headers=profiles.auth())
                assert response.status_code == 201, response.text
                ids.append(response.json()["id"])
            first = ids[0]
            await profiles.client.patch(f"/v1/customers/{first}", json={"address": PEOPLE[1]["address"] + " 2F"}, headers=profiles.auth())
            await profiles.client.post("/v1/interactions", json={"customer_id": first, "channel": "call", "direction": "inbound",
                                                                  "note": NOTE, "occurred_at": "2026-08-01T09:00:00+08:00"}, headers=profiles.auth())
            await profiles.client.get("/v1/customers", params={"q": "欧阳"}, headers=profiles.auth())
            await profiles.client.post("/v1/customers", json={**PEOPLE[0], "external_id": "pii-3"}, headers=profiles.auth())
            await profiles.client.post("/v1/purchases", json={"order_id": "pii-order", "customer_id": first, "amount": "1.00",
                                                               "occurred_at": "2026-08-01T09:00:00+08:00"}, headers=profiles.auth())
            await profiles.client.delete(f"/v1/customers/{ids[1]}", headers=profiles.auth())

            def everything_arrived(records):
                return sum(1 for record in records if record.key in {i.encode() for i in ids}) >= 6

            records = await read_topics(kafka_bootstrap, all_topics(settings), until=everything_arrived, timeout=60)
    finally:
        configure_logging("INFO")
        logging.getLogger().handlers[:] = []
    assert sum(1 for record in records if record.key in {i.encode() for i in ids}) >= 6, "the events under test did not arrive"
    wire = [record.value.decode() + " " + " ".join(value.decode() for _, value in record.headers) for record in records]
    logs = captured.getvalue()
    assert "POST /v1/customers" in logs, "the log capture is empty, so the check below would prove nothing"
    for needle in _needles():
        assert not any(needle in text for text in wire), f"{needle!r} was published"
        assert needle not in logs, f"{needle!r} was logged"
