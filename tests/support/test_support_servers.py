"""The test-support servers are real: messages and databases go through them."""

import asyncio
import shutil
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.support.kafka_broker import KafkaBroker, create_topics
from tests.support.postgres_server import PostgresServer

TOPIC = "pulse.support-check"


async def publish(bootstrap: str, *, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(TOPIC, value, key=key)
    finally:
        await producer.stop()


async def first_message(bootstrap: str) -> bytes:
    """Reads the topic from the start as a new consumer group, so only stored data counts."""
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=f"support-check-{uuid.uuid4()}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    return message.value


async def partition_count(bootstrap: str, topic: str) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        return len(await producer.partitions_for(topic))
    finally:
        await producer.stop()


@pytest.fixture
def broker(tmp_path):
    with KafkaBroker(tmp_path / "kafka") as broker:
        yield broker


@pytest.fixture
def postgres():
    with PostgresServer() as server:
        yield server
    shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.mark.kafka
def test_a_published_message_outlives_a_restart_and_a_crash(broker):
    asyncio.run(create_topics(broker.bootstrap, [TOPIC], partitions=3))
    asyncio.run(publish(broker.bootstrap, key=b"customer-1", value=b"hello"))
    assert asyncio.run(first_message(broker.bootstrap)) == b"hello"

    broker.restart()
    assert asyncio.run(first_message(broker.bootstrap)) == b"hello"

    broker.kill()
    with pytest.raises(TimeoutError):
        broker.wait_ready(timeout=2)
    broker.start()
    assert asyncio.run(first_message(broker.bootstrap)) == b"hello"


@pytest.mark.kafka
def test_topics_are_created_once_with_the_asked_partitions(broker):
    asyncio.run(create_topics(broker.bootstrap, ["pulse.three"], partitions=3))
    asyncio.run(create_topics(broker.bootstrap, ["pulse.three", "pulse.five"], partitions=5))

    assert asyncio.run(partition_count(broker.bootstrap, "pulse.three")) == 3
    assert asyncio.run(partition_count(broker.bootstrap, "pulse.five")) == 5


@pytest.mark.postgres
def test_a_created_database_answers_queries(postgres):
    url = postgres.create_database("pulse_support_check")
    assert url == f"postgresql+asyncpg://pulse@127.0.0.1:{postgres.port}/pulse_support_check"

    async def select_one() -> int:
        connection = await asyncpg.connect(f"{postgres.url}/pulse_support_check")
        try:
            return await connection.fetchval("select 1")
        finally:
            await connection.close()

    assert asyncio.run(select_one()) == 1


@pytest.mark.postgres
def test_the_service_databases_exist_after_start(postgres):
    async def database_names() -> set[str]:
        connection = await asyncpg.connect(f"{postgres.url}/postgres")
        try:
            return {row["datname"] for row in await connection.fetch("select datname from pg_database")}
        finally:
            await connection.close()

    expected = {"pulse_profiles", "pulse_feedback", "pulse_scoring", "pulse_alerts", "pulse_auth"}
    assert expected <= asyncio.run(database_names())
