"""`kill -9` of the profiles process in the middle of a stream of batch writes loses nothing
acknowledged and counts nothing twice, in the database and downstream."""

import os

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import create_async_engine

from tests.integration.kafka_tools import eventually, read_topics
from tests.integration.service_process import ServiceProcess
from tests.integration.streams import PurchaseStream, at_least
from tests.integration.tally import Tally

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
BATCH = 100


async def test_kill_9_during_batch_writes_loses_no_acknowledged_purchase_and_counts_none_twice(tmp_path, postgres_server, kafka_bootstrap):
    topic_suffix = os.urandom(3).hex()
    database_url = postgres_server.create_database(f"crash_{topic_suffix}")
    env = {
        "PULSE_BUS": "kafka", "PULSE_KAFKA_BOOTSTRAP": kafka_bootstrap, "PULSE_DATABASE_URL": database_url,
        "PULSE_AUTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}", "PULSE_DATA_DIR": str(tmp_path),
        "PULSE_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "PULSE_HASH_KEY": "crash-test",
        "PULSE_TOPIC_PURCHASES": f"crash-{topic_suffix}.purchases", "PULSE_TOPIC_CUSTOMERS": f"crash-{topic_suffix}.customers",
    }
    service = ServiceProcess("profiles", env, tmp_path / "profiles.log")
    key = service.cli("keys", "create", "--role", "service", "--name", "crash test")
    tally = Tally(f"sqlite+aiosqlite:///{tmp_path / 'tally.db'}", kafka_bootstrap, group=f"tally-{topic_suffix}")
    tally.consumer.topics = [env["PULSE_TOPIC_PURCHASES"]]
    service.start()
    try:
        await tally.start()
        stream = await PurchaseStream(service.url, key, batch=BATCH).start()
        assert await eventually(lambda: at_least(stream.acknowledged, 5 * BATCH), timeout=60)
        service.kill()
        await stream.stop()
        acknowledged_at_kill = set(stream.acknowledged)

        service.start()
        stored = await _stored_orders(database_url)
        assert acknowledged_at_kill <= set(stored), "an acknowledged purchase was lost"
        assert all(count == 1 for count in stored.values())

        assert await eventually(lambda: _tally_has(tally, set(stored)), timeout=120), "not every stored purchase reached downstream"
        counts = await tally.counts()
        assert set(counts) == set(stored)
        assert set(counts.values()) == {1}, "a purchase was counted twice downstream"

        records = await read_topics(kafka_bootstrap, [env["PULSE_TOPIC_PURCHASES"]], until=lambda r: len(r) >= len(stored), timeout=60)
        ids_per_order: dict[str, set[str]] = {}
        for record in records:
            headers = dict(record.headers)
            ids_per_order.setdefault(_order_of(record), set()).add(headers["ce_id"].decode())
        assert set(ids_per_order) == set(stored)
        assert all(len(ids) == 1 for ids in ids_per_order.values()), "a redelivery must carry the same event id"
    finally:
        service.stop()
        await tally.stop()


def _order_of(record) -> str:
    import json
    return json.loads(record.value)["order_id"]


async def _tally_has(tally: Tally, orders: set[str]) -> bool:
    return set(await tally.counts()) >= orders


async def _stored_orders(database_url: str) -> dict[str, int]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(sa.text("SELECT order_id, count(*) FROM purchases GROUP BY order_id"))
            return dict(rows.all())
    finally:
        await engine.dispose()
