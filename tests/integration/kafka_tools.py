"""Reading topics back from a real broker, with bounded waits."""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer


async def read_topics(bootstrap: str, topics: list[str], *, until: Callable[[list], bool], timeout: float = 60.0) -> list:
    """All records of the topics from the beginning, until `until(records)` holds or time runs out."""
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, group_id=f"reader-{uuid.uuid4().hex}", auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until(records):
            batches = await consumer.getmany(timeout_ms=500)
            for partition_records in batches.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(interval)
    return await check()
