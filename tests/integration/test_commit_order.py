"""Per-customer order holds on PostgreSQL with concurrent writers whose transactions commit out of
the order they wrote in: the relay publishes a customer's events in the order they were written,
and none is missing."""

import asyncio
import json
import os
import random
from collections import defaultdict

import pytest

from services.common.catalog import PurchaseRecorded
from services.common.database import COMMON_MIGRATIONS, Database
from services.common.events import envelope_for
from services.common.kafka_bus import KafkaBus
from services.common.observability import ServiceMetrics
from services.common.outbox import OutboxRelay, add_events
from services.common.timeutil import utcnow
from tests.integration.kafka_tools import read_topics

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
CUSTOMERS = ["c-1", "c-2", "c-3"]
WRITERS = 12
EVENTS_PER_WRITER = 20


def purchase(customer_id: str, number: int):
    payload = PurchaseRecorded(customer_id=customer_id, purchase_id=f"p-{customer_id}-{number}",
                               order_id=f"{customer_id}-{number:05d}", amount="1.00", currency="CNY", occurred_at=utcnow())
    return envelope_for(payload, source="/test")


class Customers:
    """Hands out each customer's next number and writes its event while no other writer of that
    customer writes, so each customer's rows are written in number order; commits come in any order."""

    def __init__(self):
        self.next_number = defaultdict(int)
        self.locks = defaultdict(asyncio.Lock)

    async def write_next(self, session, customer_id: str, topic: str) -> None:
        async with self.locks[customer_id]:
            number = self.next_number[customer_id]
            self.next_number[customer_id] += 1
            await add_events(session, [(purchase(customer_id, number), topic)])


async def writer(database: Database, customers: Customers, topic: str, seed: int) -> None:
    chance = random.Random(seed)
    for _ in range(EVENTS_PER_WRITER):
        async with database.transaction() as session:
            await customers.write_next(session, chance.choice(CUSTOMERS), topic)
            await asyncio.sleep(chance.uniform(0, 0.2))  # held open: later rows may commit first


async def test_each_customers_events_are_published_in_the_order_written_though_commits_interleave(postgres_server, kafka_bootstrap):
    suffix = os.urandom(3).hex()
    topic = f"order-{suffix}.purchases"
    database = Database(postgres_server.create_database(f"order_{suffix}"), migrations=[COMMON_MIGRATIONS / "versions"])
    await database.migrate()
    bus = KafkaBus(bootstrap=kafka_bootstrap, client_id=f"order-{suffix}", partitions=3)
    await bus.ensure_topics([topic])
    relay = OutboxRelay(database=database, bus=bus, metrics=ServiceMetrics("order-test"), poll_seconds=0.01, linger_seconds=0)
    relaying = asyncio.create_task(relay.run())
    customers = Customers()
    try:
        await asyncio.gather(*(writer(database, customers, topic, seed) for seed in range(WRITERS)))
        total = WRITERS * EVENTS_PER_WRITER
        records = await read_topics(kafka_bootstrap, [topic], until=lambda found: len(found) >= total, timeout=60)
    finally:
        relaying.cancel()
        await asyncio.gather(relaying, return_exceptions=True)
        await relay.close()
        await bus.stop()
        await database.dispose()
    published: dict[str, list[int]] = defaultdict(list)
    for record in records:
        order_id = json.loads(record.value)["order_id"]
        published[record.key.decode()].append(int(order_id.rsplit("-", 1)[1]))
    assert sum(len(numbers) for numbers in published.values()) == total, "an event is missing or came twice"
    for customer_id, numbers in published.items():
        assert numbers == list(range(customers.next_number[customer_id])), f"{customer_id}'s events out of order"
