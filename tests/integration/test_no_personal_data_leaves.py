"""No personal data in any Kafka message or log line, on the paths that succeed and those that fail."""

import io
import json
import logging

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Request

from services.common.bootstrap import all_topics
from services.common.observability import configure_logging
from services.profiles.app import create_app as create_profiles
from tests.harness import profiles_service, running, settings_for_tests
from tests.harness import test_platform as platform_for_tests
from tests.integration.kafka_tools import read_topics

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
    # As JSON with ASCII escapes writes them, e.g. a statement's parameters in an error's text.
    return needles + [json.dumps(needle)[1:-1] for needle in needles if not needle.isascii()]


@pytest.mark.kafka
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


# Personal data in every free field the API takes, tags and attributes included.
EVERYTHING = {**PEOPLE[0], "company": PEOPLE[0]["name"], "tags": [PEOPLE[0]["name"], "13912345678"],
              "attributes": {"note": NOTE, PEOPLE[0]["name"]: PEOPLE[0]["address"]}, "consent": {"sms": True}}

probes = sa.MetaData()
probe = sa.Table("pii_probe", probes, sa.Column("name", sa.Text), sa.Column("email", sa.Text, unique=True))


def _failing_routes() -> APIRouter:
    """Test-only routes that fail with the request's values in the error: a handler that raises, and
    a unique constraint violated by a statement whose parameters are the values."""
    router = APIRouter()

    @router.post("/probe/fail/{email}")
    async def fail(email: str, body: dict) -> None:
        raise ValueError(f"cannot handle {email}: {body}")

    @router.post("/probe/violate")
    async def violate(request: Request, body: dict) -> None:
        async with request.app.state.database.transaction() as session:
            for _ in range(2):
                await session.execute(sa.insert(probe).values(name=body["name"], email=body["email"]))

    return router


async def test_no_personal_data_in_any_message_or_log_line_when_requests_fail(tmp_path, database_url):
    captured = io.StringIO()
    configure_logging("DEBUG", stream=captured)
    settings = settings_for_tests(tmp_path, database_url=database_url, log_level="DEBUG")
    platform, recorder = platform_for_tests(settings, None, {})
    app = create_profiles(platform)
    app.include_router(_failing_routes())
    try:
        async with running(app, platform, recorder) as profiles:
            async with app.state.database.engine.begin() as connection:
                await connection.run_sync(probes.create_all)
            # As a server answers: an unhandled error becomes a 500, it does not reach the client.
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                       base_url="http://testserver", headers=profiles.auth())
            async with client:
                created = await client.post("/v1/customers", json=EVERYTHING)
                assert created.status_code == 201, created.text
                customer_id = created.json()["id"]
                answers = [
                    await client.post("/v1/customers", json={**EVERYTHING, "external_id": "pii-again"}),
                    await client.post("/v1/customers", json={**EVERYTHING, "email": PEOPLE[0]["name"]}),
                    await client.patch(f"/v1/customers/{customer_id}", json={**EVERYTHING, "external_id": None}),
                    await client.post("/v1/interactions", json={"customer_id": customer_id, "channel": "call",
                                                                "direction": "inbound", "outcome": NOTE, "note": NOTE,
                                                                "occurred_at": "2026-08-01T09:00:00+08:00"}),
                    await client.get(f"/v1/customers/{PEOPLE[0]['email']}"),
                    await client.post(f"/probe/fail/{PEOPLE[0]['email']}", json=EVERYTHING),
                    await client.post("/probe/violate", json=EVERYTHING),
                ]
            await profiles.drain_outbox()
    finally:
        await platform.key_store.database.dispose()
        configure_logging("INFO")
        logging.getLogger().handlers[:] = []
    assert [answer.status_code for answer in answers] == [409, 422, 422, 422, 404, 500, 500], [a.text for a in answers]
    logs = captured.getvalue()
    assert "POST /probe/fail/{email} 500" in logs and "POST /probe/violate 500" in logs, "the failures were not logged"
    assert recorder.events("pulse.customer.created.v1"), "the events under test were not published"
    wire = [message.value.decode() + " " + " ".join(value.decode() for _, value in message.headers)
            for message in recorder.messages]
    for needle in _needles():
        assert not any(needle in text for text in wire), f"{needle!r} was published"
        assert needle not in logs, f"{needle!r} was logged"
