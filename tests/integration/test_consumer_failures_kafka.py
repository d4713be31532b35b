"""Consumers on a real broker: poison records go to `<topic>.dlq` and the records after them are
consumed; a dead letter is recorded once when its records come again; PostgreSQL stopped under a
busy consumer, or a row lock held past the lock timeout, loses nothing and dead-letters nothing."""

import asyncio
import uuid

import asyncpg
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from services.common.delivery_tables import dead_letters
from services.common.kafka_bus import KafkaBus
from services.common.settings import Topics
from tests.integration.kafka_tools import eventually, read_topics
from tests.integration.poison import poison_records, purchase_message
from tests.integration.tally import Tally
from tests.support.postgres_server import PostgresServer

pytestmark = pytest.mark.kafka


async def fresh_topics(bootstrap: str, partitions: int = 1) -> Topics:
    topics = Topics(purchases=f"purchases-{uuid.uuid4().hex[:10]}")
    bus = KafkaBus(bootstrap=bootstrap, client_id="test-admin", partitions=partitions)
    await bus.ensure_topics([topics.purchases, f"{topics.purchases}.dlq"])
    return topics


async def produce(bootstrap: str, messages, pause: float = 0.0) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for message in messages:  # raw records: null values and null headers go as they are
            await producer.send_and_wait(message.topic, value=message.value, key=message.key, headers=list(message.headers))
            await asyncio.sleep(pause)
    finally:
        await producer.stop()


async def letter_count(tally: Tally) -> int:
    async with tally.database.sessions() as session:
        return await session.scalar(sa.select(sa.func.count()).select_from(dead_letters))


async def has_orders(tally: Tally, orders: set[str]) -> bool:
    return orders <= set(await tally.counts())


async def test_each_poison_record_lands_on_the_dlq_with_its_reason_and_the_records_after_it_are_consumed(tmp_path, kafka_bootstrap):
    topics = await fresh_topics(kafka_bootstrap)
    poison = poison_records(topics.purchases)
    sent = []
    for number, (record, _code, _reason) in enumerate(poison.values()):
        sent += [purchase_message(topics.purchases, f"before-{number}"), record]
    sent.append(purchase_message(topics.purchases, "last"))
    await produce(kafka_bootstrap, sent)

    tally = Tally(f"sqlite+aiosqlite:///{tmp_path / 'tally.db'}", kafka_bootstrap, group=f"tally-{uuid.uuid4().hex[:6]}", topics=topics)
    await tally.start()
    try:
        good = {f"before-{number}" for number in range(len(poison))} | {"last"}
        assert await eventually(lambda: has_orders(tally, good), timeout=60), "a poison record wedged the partition"
        letters = await read_topics(kafka_bootstrap, [f"{topics.purchases}.dlq"], until=lambda found: len(found) >= len(poison), timeout=30)
        assert await letter_count(tally) == len(poison)
        assert set((await tally.counts()).values()) == {1}
    finally:
        await tally.stop()
    said = [{name: value.decode() for name, value in letter.headers if name.startswith("error.")} for letter in letters]
    assert [(headers["error.code"], headers.get("error.reason")) for headers in said] == [
        (code, reason) for _record, code, reason in poison.values()
    ]
    offsets = [str(offset) for offset in range(1, 2 * len(poison), 2)]
    assert [headers["error.offset"] for headers in said] == offsets
    assert {(headers["error.topic"], headers["error.partition"], headers["error.consumer"]) for headers in said} == {
        (topics.purchases, "0", tally.consumer.name)}
    assert [letter.value for letter in letters] == [record.value for record, _code, _reason in poison.values()]


async def test_a_dead_letter_is_recorded_once_when_its_record_is_delivered_again(tmp_path, kafka_bootstrap):
    topics = await fresh_topics(kafka_bootstrap)
    poison = poison_records(topics.purchases)
    await produce(kafka_bootstrap, [poison["bad JSON"][0], poison["schema invalid"][0], purchase_message(topics.purchases, "o-1")])
    group, url = f"tally-{uuid.uuid4().hex[:6]}", f"sqlite+aiosqlite:///{tmp_path / 'tally.db'}"
    for delivery in range(2):
        tally = Tally(url, kafka_bootstrap, group=group, topics=topics)
        await tally.start()
        try:
            assert await eventually(lambda: committed_to(kafka_bootstrap, group, topics.purchases, 3), timeout=60)
            assert await letter_count(tally) == 2
            assert await tally.counts() == {"o-1": 1}
        finally:
            await tally.stop()
        await rewind(kafka_bootstrap, group, topics.purchases)  # the records come back
    letters = await read_topics(kafka_bootstrap, [f"{topics.purchases}.dlq"], until=lambda found: len(found) > 2, timeout=5)
    assert len(letters) == 2


async def committed_to(bootstrap: str, group: str, topic: str, offset: int) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    except KafkaError:  # e.g. the group's coordinator is not known yet: ask again
        return False
    finally:
        await admin.close()
    committed = offsets.get(TopicPartition(topic, 0))
    return committed is not None and committed.offset >= offset


async def rewind(bootstrap: str, group: str, topic: str) -> None:
    async def rewound() -> bool:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            partition = TopicPartition(topic, 0)
            consumer.assign([partition])
            await consumer.commit({partition: 0})
            return True
        except KafkaError:  # the coordinator may move or be unknown for a moment
            return False
        finally:
            await consumer.stop()

    assert await eventually(rewound, timeout=30, interval=1)


async def test_postgresql_stopped_under_a_busy_consumer_loses_nothing_and_dead_letters_nothing(tmp_path, kafka_bootstrap):
    topics = await fresh_topics(kafka_bootstrap, partitions=3)
    server = PostgresServer(tmp_path / "postgres")
    server.start()
    tally = Tally(server.create_database("tally"), kafka_bootstrap, group=f"tally-{uuid.uuid4().hex[:6]}", topics=topics,
                  backoff_max_seconds=2.0)
    orders = {f"order-{number:04d}" for number in range(300)}
    try:
        await tally.start()
        writer = asyncio.create_task(produce(kafka_bootstrap, [
            purchase_message(topics.purchases, order, customer_id=f"c-{number % 7}") for number, order in enumerate(sorted(orders))
        ], pause=0.03))
        assert await eventually(lambda: _counted_at_least(tally, 30), timeout=60)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(8)  # the consumer meets the outage for several back-offs
        await asyncio.to_thread(server.start)
        await writer
        assert await eventually(lambda: has_orders(tally, orders), timeout=120)
        assert set((await tally.counts()).values()) == {1}
        assert await letter_count(tally) == 0
    finally:
        await tally.stop()
        await asyncio.to_thread(server.stop)
    letters = await read_topics(kafka_bootstrap, [f"{topics.purchases}.dlq"], until=lambda found: bool(found), timeout=3)
    assert letters == []


async def _counted_at_least(tally: Tally, expected: int) -> bool:
    return len(await tally.counts()) >= expected


async def test_a_row_locked_past_the_lock_timeout_is_retried_later_not_dead_lettered(tmp_path, kafka_bootstrap, postgres_server):
    topics = await fresh_topics(kafka_bootstrap)
    url = postgres_server.create_database(f"t_{uuid.uuid4().hex[:10]}")
    plain_url = url.replace("postgresql+asyncpg://", "postgresql://")
    tally = Tally(url, kafka_bootstrap, group=f"tally-{uuid.uuid4().hex[:6]}", topics=topics, backoff_max_seconds=1.0)
    await tally.start()
    locker = await asyncpg.connect(plain_url)
    try:
        await locker.execute(f"ALTER DATABASE \"{plain_url.rsplit('/', 1)[1]}\" SET lock_timeout = '100ms'")
        await locker.execute("INSERT INTO purchase_tally (order_id, times) VALUES ('order-locked', 1)")
        await tally.database.engine.dispose()  # new connections take the lock timeout
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute("SELECT * FROM purchase_tally WHERE order_id = 'order-locked' FOR UPDATE")
        await produce(kafka_bootstrap, [purchase_message(topics.purchases, "order-locked"), purchase_message(topics.purchases, "after")])
        await asyncio.sleep(5)  # longer than every retry the consumer makes at once
        await transaction.rollback()
        assert await eventually(lambda: has_orders(tally, {"after"}), timeout=60)
        assert await tally.counts() == {"order-locked": 2, "after": 1}
        assert await letter_count(tally) == 0
    finally:
        await locker.close()
        await tally.stop()


async def test_topic_creation_reaches_readiness_ok_when_created_and_the_broker_code_when_refused(kafka_bootstrap):
    created = KafkaBus(bootstrap=kafka_bootstrap, client_id="t", partitions=1, topics=[f"ready-{uuid.uuid4().hex[:10]}"], retry_seconds=0.2)
    # One broker cannot hold three replicas: the broker refuses with INVALID_REPLICATION_FACTOR (38).
    refused = KafkaBus(bootstrap=kafka_bootstrap, client_id="t", partitions=1, replication_factor=3,
                       topics=[f"refused-{uuid.uuid4().hex[:10]}"], retry_seconds=0.2)
    for bus in (created, refused):
        await bus.start()
    try:
        assert await eventually(lambda: _health_is(created, "ok"), timeout=30)
        assert await eventually(lambda: _health_is(refused, "failing: InvalidReplicationFactorError (broker code 38)"), timeout=30)
    finally:
        for bus in (created, refused):
            await bus.stop()


async def _health_is(bus: KafkaBus, expected: str) -> bool:
    return bus.health() == {"kafka_topics": expected}
