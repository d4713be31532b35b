"""Outbox relay, inbox and consumer runner on the in-process bus and SQLite."""

import pytest
import sqlalchemy as sa

from services.common.bus import InProcessBus
from services.common.catalog import PurchaseRecorded
from services.common.consumers import EventConsumer
from services.common.database import COMMON_MIGRATIONS, Database
from services.common.delivery_tables import dead_letters, inbox, outbox
from services.common.events import Message, envelope_for, to_message
from services.common.failures import DeliverAgain
from services.common.observability import ServiceMetrics
from services.common.outbox import OutboxRelay, add_events
from services.common.settings import Topics
from services.common.timeutil import utcnow

TOPICS = Topics()


async def migrated(tmp_path, name: str) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / name}.db", migrations=[COMMON_MIGRATIONS / "versions"])
    await database.migrate()
    return database


def recorded(order_id: str, customer_id: str = "c-1"):
    payload = PurchaseRecorded(customer_id=customer_id, purchase_id=f"p-{order_id}", order_id=order_id, amount="1.00",
                               currency="CNY", occurred_at=utcnow())
    return envelope_for(payload, source="/test")


class FlakyHandler:
    def __init__(self, failures_left: int = 0, poison: set[str] = frozenset()):
        self.failures_left = failures_left
        self.poison = poison
        self.seen: list[str] = []

    async def __call__(self, delivery, payload) -> None:
        if payload.order_id in self.poison:
            raise ValueError("cannot handle this one")
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionError("database hiccup")
        self.seen.append(payload.order_id)


def consumer_for(database, bus, handler) -> EventConsumer:
    return EventConsumer(name="tester", handlers={PurchaseRecorded.event_type: handler}, database=database, bus=bus,
                         topics=TOPICS, metrics=ServiceMetrics("tester"), max_attempts=3, retry_base_seconds=0.001)


async def unsent(database) -> int:
    async with database.sessions() as session:
        return await session.scalar(sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None)))


async def test_rows_are_marked_sent_only_after_every_subscriber_committed(tmp_path):
    producer_db, consumer_db = await migrated(tmp_path, "producer"), await migrated(tmp_path, "consumer")
    bus = InProcessBus()
    failing_transport = {"down": True}

    async def subscriber(messages):
        if failing_transport["down"]:
            raise ConnectionError("subscriber database is down")

    bus.subscribe("fragile", [TOPICS.purchases], subscriber)
    relay = OutboxRelay(database=producer_db, bus=bus, metrics=ServiceMetrics("producer"))
    async with producer_db.transaction() as session:
        await add_events(session, [(recorded(f"o-{n}"), TOPICS.purchases) for n in range(3)])
    try:
        await relay.relay_once()
    except ConnectionError:
        pass
    assert await unsent(producer_db) == 3
    failing_transport["down"] = False
    assert await relay.relay_once() == 3
    assert await unsent(producer_db) == 0
    await consumer_db.dispose()
    await producer_db.dispose()


async def test_a_rolled_back_change_publishes_nothing(tmp_path):
    database = await migrated(tmp_path, "producer")
    try:
        async with database.transaction() as session:
            await add_events(session, [(recorded("o-1"), TOPICS.purchases)])
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    assert await unsent(database) == 0
    await database.dispose()


async def test_the_same_event_twice_is_handled_once(tmp_path):
    database = await migrated(tmp_path, "consumer")
    handler = FlakyHandler()
    consumer = consumer_for(database, InProcessBus(), handler)
    message = to_message(recorded("o-1"), TOPICS.purchases)
    await consumer.handle_batch([message, message])
    await consumer.handle_batch([message])
    assert handler.seen == ["o-1"]
    async with database.sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(inbox)) == 1
    await database.dispose()


async def test_a_passing_failure_dead_letters_nothing_and_the_batch_comes_again(tmp_path):
    database = await migrated(tmp_path, "consumer")
    handler = FlakyHandler(failures_left=1)
    consumer = consumer_for(database, InProcessBus(), handler)
    batch = [to_message(recorded(order), TOPICS.purchases) for order in ("o-1", "o-2")]
    with pytest.raises(DeliverAgain) as again:
        await consumer.handle_batch(batch)
    assert again.value.done == 0
    await consumer.handle_batch(batch[again.value.done:])
    assert handler.seen == ["o-1", "o-2"]
    async with database.sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(dead_letters)) == 0
    await database.dispose()


async def test_a_message_that_keeps_failing_is_dead_lettered_while_the_rest_go_on(tmp_path):
    database = await migrated(tmp_path, "consumer")
    bus = InProcessBus()
    dlq = []

    async def dlq_reader(messages):
        dlq.extend(messages)

    bus.subscribe("dlq-reader", [f"{TOPICS.purchases}.dlq"], dlq_reader)
    handler = FlakyHandler(poison={"o-bad"})
    consumer = consumer_for(database, bus, handler)
    batch = [to_message(recorded(order), TOPICS.purchases) for order in ("o-1", "o-bad", "o-2")]
    await consumer.handle_batch(batch)
    assert set(handler.seen) == {"o-1", "o-2"}  # o-1 also ran in the batch's rolled-back transaction
    async with database.sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(inbox)) == 2
    assert [(message.header("error.type"), message.header("error.code")) for message in dlq] == [("ValueError", "handler_failed")]
    async with database.sessions() as session:
        letters = (await session.execute(sa.select(dead_letters.c.topic, dead_letters.c.error))).all()
    assert letters == [(TOPICS.purchases, "ValueError: handler_failed")]
    metric = consumer.metrics.registry.get_sample_value(
        "pulse_dlq_messages_total", {"service": "tester", "consumer": "tester", "topic": TOPICS.purchases})
    assert metric == 1
    await database.dispose()


async def test_a_message_that_is_not_a_cloudevent_is_dead_lettered(tmp_path):
    database = await migrated(tmp_path, "consumer")
    consumer = consumer_for(database, InProcessBus(), FlakyHandler())
    await consumer.handle_batch([Message(topic=TOPICS.purchases, key=b"c-1", value=b"\xff not json", headers=())])
    async with database.sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(dead_letters)) == 1
    await database.dispose()
