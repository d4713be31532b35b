"""The consumer's per-batch path on SQLite and PostgreSQL: a service's batch state gathers what its
handlers note and writes it once before the commit; every event is still applied once, repeats in
a batch are dropped, and a poison record (in a handler or in the batch's own write) is
dead-lettered alone while the others are applied once."""

import json

import pytest
import sqlalchemy as sa

from services.common.bus import InProcessBus
from services.common.catalog import PurchaseRecorded
from services.common.consumers import EventConsumer
from services.common.database import COMMON_MIGRATIONS, Database
from services.common.delivery_tables import dead_letters, inbox, outbox
from services.common.events import Message, envelope_for
from services.common.observability import ServiceMetrics
from services.common.outbox import add_events
from services.common.settings import Topics
from tests.integration.poison import poison_records, purchase_message

TOPICS = Topics()


class Orders:
    """A batch state: notes order ids, and at the end writes one outbox row per order noted."""

    finished: list[list[str]] = []

    def __init__(self, session, context):
        self.session, self.noted = session, []

    async def finish(self) -> None:
        if "bad-at-finish" in self.noted:
            raise ValueError("the batch's write fails for this order")
        Orders.finished.append(list(self.noted))
        await add_events(self.session, [(envelope_for(PurchaseRecorded(
            customer_id="c-1", purchase_id=f"p-{order}", order_id=order, amount="1.00", currency="CNY",
            occurred_at="2026-01-01T00:00:00Z"), source="/test"), "written") for order in self.noted])


async def note(delivery, payload) -> None:
    if payload.order_id == "bad-in-handler":
        raise ValueError("the handler fails for this order")
    delivery.batch.noted.append(payload.order_id)


@pytest.fixture
async def database(tmp_path, database_url):
    database = Database(database_url or f"sqlite+aiosqlite:///{tmp_path / 'batch.db'}", migrations=[COMMON_MIGRATIONS / "versions"])
    await database.migrate()
    Orders.finished = []
    yield database
    await database.dispose()


def consumer_for(database) -> EventConsumer:
    return EventConsumer(name="tester", handlers={PurchaseRecorded.event_type: note}, database=database, bus=InProcessBus(),
                         topics=TOPICS, metrics=ServiceMetrics("tester"), max_attempts=2, retry_base_seconds=0.001,
                         batch=Orders)


def order(order_id: str) -> Message:
    return purchase_message(TOPICS.purchases, order_id)


async def written(database) -> list[str]:
    """The orders the batch states wrote, as committed."""
    async with database.sessions() as session:
        values = await session.scalars(sa.select(outbox.c.value).where(outbox.c.topic == "written"))
        return sorted(json.loads(value)["order_id"] for value in values)


async def count(database, table) -> int:
    async with database.sessions() as session:
        return await session.scalar(sa.select(sa.func.count()).select_from(table))


async def test_a_batch_is_finished_once_with_each_new_event_once(database):
    consumer = consumer_for(database)
    first, second, third = order("a"), order("b"), order("c")
    await consumer.handle_batch([first])
    await consumer.handle_batch([second, first, third, second, third])  # one seen before, two repeated within
    assert Orders.finished == [["a"], ["b", "c"]]
    assert await written(database) == ["a", "b", "c"]
    assert await count(database, inbox) == 3


@pytest.mark.parametrize("bad", ["bad-in-handler", "bad-at-finish"])
async def test_a_poison_record_in_a_batch_is_dead_lettered_alone(database, bad):
    consumer = consumer_for(database)
    undecodable = poison_records(TOPICS.purchases)["bad JSON"][0]
    first = order("a")
    batch = [first, order(bad), order("b"), undecodable, order("c"), first]
    await consumer.handle_batch(batch)
    assert await written(database) == ["a", "b", "c"]  # the failed batch's writes were rolled back
    assert await count(database, dead_letters) == 2
    assert await count(database, inbox) == 3  # a, b and c; the poison one is a dead letter
    async with database.sessions() as session:
        errors = sorted(await session.scalars(sa.select(dead_letters.c.error)))
    assert sorted(error.split(":")[1].split()[0] for error in errors) == ["handler_failed", "undecodable"]
    await consumer.handle_batch(batch)  # delivered again: nothing changes
    assert await written(database) == ["a", "b", "c"]
    assert await count(database, dead_letters) == 2
