"""The outbox, the relay and the consumer runner against a real Kafka broker."""

import pytest

from tests.harness import profiles_service, settings_for_tests
from tests.integration.kafka_tools import eventually, read_topics
from tests.integration.tally import Tally
from tests.support.kafka_broker import KafkaBroker

pytestmark = pytest.mark.kafka


def purchase(customer_id: str, number: int) -> dict:
    return {"order_id": f"order-{number:05d}", "customer_id": customer_id, "amount": f"{number}.00",
            "occurred_at": "2026-06-01T10:00:00+08:00"}


async def test_an_event_written_through_the_outbox_reaches_a_consumer_with_cloudevents_headers(tmp_path, kafka_bootstrap):
    settings = settings_for_tests(tmp_path, bus="kafka", kafka_bootstrap=kafka_bootstrap)
    async with profiles_service(settings) as profiles:
        created = await profiles.client.post("/v1/customers", json={"name": "陈晓", "external_id": "k-1"}, headers=profiles.auth())
        customer_id = created.json()["id"]

        def found(records):
            return any(record.key == customer_id.encode() for record in records)

        records = await read_topics(kafka_bootstrap, ["pulse.customers"], until=found, timeout=30)
    [record] = [record for record in records if record.key == customer_id.encode()]
    headers = {name: value.decode() for name, value in record.headers}
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "pulse.customer.created.v1"
    assert headers["ce_source"] == "/pulse/profiles"
    assert headers["ce_subject"] == customer_id
    assert headers["content-type"] == "application/json"
    assert {"ce_id", "ce_time"} <= headers.keys()


async def test_writes_succeed_while_the_broker_is_down_and_every_event_arrives_once_after(tmp_path):
    broker = KafkaBroker(tmp_path / "broker")
    broker.start()
    settings = settings_for_tests(tmp_path / "profiles", bus="kafka", kafka_bootstrap=broker.bootstrap)
    tally = Tally(f"sqlite+aiosqlite:///{tmp_path / 'tally.db'}", broker.bootstrap)
    try:
        await tally.start()
        async with profiles_service(settings) as profiles:
            customer = (await profiles.client.post("/v1/customers", json={"name": "周杰"}, headers=profiles.auth())).json()
            for number in range(20):
                response = await profiles.client.post("/v1/purchases", json=purchase(customer["id"], number), headers=profiles.auth())
                assert response.status_code == 201
            assert await eventually(lambda: _has(tally, 20), timeout=60)

            broker.stop()
            for number in range(20, 50):
                response = await profiles.client.post("/v1/purchases", json=purchase(customer["id"], number), headers=profiles.auth())
                assert response.status_code == 201, "a write must not depend on the broker"
            relay = profiles.app.state.relay
            assert await relay.backlog() >= 30

            broker.start()
            assert await eventually(lambda: _has(tally, 50), timeout=120)
            assert await eventually(lambda: _backlog_is_zero(relay), timeout=30)
        counts = await tally.counts()
        assert sorted(counts) == [f"order-{number:05d}" for number in range(50)]
        assert set(counts.values()) == {1}
    finally:
        await tally.stop()
        broker.stop()


async def _has(tally: Tally, expected: int) -> bool:
    return len(await tally.counts()) >= expected


async def _backlog_is_zero(relay) -> bool:
    return await relay.backlog() == 0
