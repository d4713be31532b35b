"""`kill -9` of the embedded stack (`pulse run`) while purchases stream in, then a restart: every
acknowledged purchase reaches a consumer group of the stack exactly once, though that group
subscribes only after the services have started (and their relays have run)."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.integration.kafka_tools import eventually
from tests.integration.service_process import EmbeddedProcess
from tests.integration.streams import PurchaseStream, at_least

BATCH = 50
STORED = "SELECT order_id, count(*) FROM purchases GROUP BY order_id"
COUNTED = "SELECT order_id, times FROM purchase_tally"


async def test_kill_9_of_the_embedded_stack_loses_no_acknowledged_purchase_for_any_group(tmp_path):
    data_dir = tmp_path / "data"
    tally_url = f"sqlite+aiosqlite:///{tmp_path / 'tally.db'}"
    stack = EmbeddedProcess({"PULSE_DATA_DIR": str(data_dir), "PULSE_TALLY_DATABASE_URL": tally_url}, tmp_path / "embedded.log",
                            module="tests.integration.embedded_with_tally", args=())
    stack.start()
    try:
        key = (data_dir / "admin-api-key").read_text().strip()
        stream = await PurchaseStream(stack.url, key, batch=BATCH).start()
        assert await eventually(lambda: at_least(stream.acknowledged, 10 * BATCH), timeout=60)
        stack.kill()
        await stream.stop()
        acknowledged_at_kill = set(stream.acknowledged)

        stack.start()
        stored = await _counts(f"sqlite+aiosqlite:///{data_dir / 'profiles.db'}", STORED)
        assert acknowledged_at_kill <= set(stored), "an acknowledged purchase was lost"
        assert await eventually(lambda: _tally_has(tally_url, set(stored)), timeout=60), "not every stored purchase reached the group"
        counts = await _counts(tally_url, COUNTED)
        assert set(counts) == set(stored)
        assert set(counts.values()) == {1}, "a purchase was counted twice"
    finally:
        stack.stop()


async def _tally_has(tally_url: str, orders: set[str]) -> bool:
    return set(await _counts(tally_url, COUNTED)) >= orders


async def _counts(database_url: str, query: str) -> dict[str, int]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return dict((await connection.execute(sa.text(query))).all())
    finally:
        await engine.dispose()
