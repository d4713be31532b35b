"""The relay in a process of its own (PULSE_OUTBOX_RELAY=process): it publishes what the API wrote,
each event once by id, in the order written; it ends with its parent, even one killed with -9, and the
restarted service's relay sends what was left."""

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import create_async_engine

from services.common.runner import _start_relay_process
from services.common.settings import Settings
from tests.integration.kafka_tools import eventually, read_topics
from tests.integration.service_process import ServiceProcess
from tests.integration.streams import PurchaseStream, at_least

BATCH = 100


def test_a_relay_process_needs_postgresql(tmp_path):
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", outbox_relay="process")
    with pytest.raises(SystemExit, match="needs PostgreSQL"):
        _start_relay_process("profiles", settings)


@pytest.mark.kafka
@pytest.mark.postgres
async def test_the_relay_process_publishes_once_in_order_and_ends_with_its_killed_parent(tmp_path, postgres_server, kafka_bootstrap):
    suffix = os.urandom(3).hex()
    database_url = postgres_server.create_database(f"relay_{suffix}")
    topic = f"relay-{suffix}.purchases"
    env = {
        "PULSE_BUS": "kafka", "PULSE_KAFKA_BOOTSTRAP": kafka_bootstrap, "PULSE_DATABASE_URL": database_url,
        "PULSE_AUTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}", "PULSE_DATA_DIR": str(tmp_path),
        "PULSE_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "PULSE_HASH_KEY": "relay-test",
        "PULSE_TOPIC_PURCHASES": topic, "PULSE_TOPIC_CUSTOMERS": f"relay-{suffix}.customers",
        "PULSE_OUTBOX_RELAY": "process", "PULSE_OUTBOX_POLL_SECONDS": "0.1",
    }
    service = ServiceProcess("profiles", env, tmp_path / "profiles.log")
    key = service.cli("keys", "create", "--role", "service", "--name", "relay test")
    service.start()
    try:
        relay_pid = _relay_child(service.process.pid)
        stream = await PurchaseStream(service.url, key, batch=BATCH, name="猪八戒").start()
        assert await eventually(lambda: at_least(stream.acknowledged, 5 * BATCH), timeout=60)
        service.kill()
        await stream.stop()
        assert await eventually(lambda: _ended(relay_pid), timeout=10), "the relay outlived its killed parent"

        service.start()
        stored = await _stored_purchases(database_url)
        assert set(stream.acknowledged) <= set(stored)
        records = await read_topics(kafka_bootstrap, [topic], until=lambda r: len({_order_of(x) for x in r}) >= len(stored), timeout=90)
        ids_per_order: dict[str, set[str]] = {}
        for record in records:
            ids_per_order.setdefault(_order_of(record), set()).add(dict(record.headers)["ce_id"].decode())
        assert set(ids_per_order) == set(stored), "a stored purchase never reached Kafka"
        assert all(len(ids) == 1 for ids in ids_per_order.values())
        # One customer, so one partition: first appearances follow the order the purchases were written.
        first_seen = list(dict.fromkeys(_order_of(record) for record in records))
        assert first_seen == sorted(first_seen, key=lambda order: stored[order])
    finally:
        service.stop()


def _relay_child(parent: int) -> int:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    relays = [int(pid) for pid in children if b"relay_process" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(relays) == 1, children
    return relays[0]


async def _ended(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def _order_of(record) -> str:
    return json.loads(record.value)["order_id"]


async def _stored_purchases(database_url: str) -> dict[str, int]:
    """order id → position in the outbox (the order in which the purchases were written)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(sa.text("SELECT value FROM outbox WHERE event_type = 'pulse.purchase.recorded.v1' ORDER BY id"))
            return {json.loads(value)["order_id"]: position for position, (value,) in enumerate(rows)}
    finally:
        await engine.dispose()
