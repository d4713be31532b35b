"""The relay never lets a row overtake one written before it by a transaction still in flight."""

import pytest

from services.common.bus import InProcessBus
from services.common.database import COMMON_MIGRATIONS, Database
from services.common.events import from_message
from services.common.observability import ServiceMetrics
from services.common.outbox import OutboxRelay, add_events
from tests.common.test_delivery import TOPICS, recorded

pytestmark = pytest.mark.postgres


async def test_a_row_waits_for_the_transaction_that_wrote_before_it(postgres_server):
    database = Database(postgres_server.create_database("outbox_order"), migrations=[COMMON_MIGRATIONS / "versions"])
    await database.migrate()
    bus = InProcessBus()
    seen: list[str] = []

    async def reader(messages) -> None:
        seen.extend(from_message(message).data["order_id"] for message in messages)

    bus.subscribe("reader", [TOPICS.purchases], reader)
    relay = OutboxRelay(database=database, bus=bus, metrics=ServiceMetrics("order"))
    try:
        async with database.transaction() as first:
            await add_events(first, [(recorded("o-1"), TOPICS.purchases)])
            async with database.transaction() as second:
                await add_events(second, [(recorded("o-2"), TOPICS.purchases)])
            assert await relay.relay_once() == 0, "o-2 must wait: o-1 was written before it and may still commit"
        assert await relay.relay_once() == 2
        assert seen == ["o-1", "o-2"]
    finally:
        await relay.close()
        await database.dispose()
