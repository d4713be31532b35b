"""aiokafka alone, as the yardstick of the benchmarks: how fast it writes or reads given messages
on the same broker, with nothing of the platform around it. Shared by bench/ingest.py and
bench/scoring_consume.py."""

import asyncio
import os
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.common.events import Message
from services.common.kafka_bus import KafkaBus


async def create_topic(bootstrap: str, topic: str, partitions: int = 12) -> None:
    """The same partitions as the platform's topics (made by the same admin call)."""
    await KafkaBus(bootstrap=bootstrap, client_id="bench-raw", partitions=partitions).ensure_topics([topic])


async def produce(bootstrap: str, messages: list[Message], **producer_options) -> float:
    """Seconds from the first send until the broker acknowledged every message (connecting not counted)."""
    options = {"linger_ms": 20, "max_batch_size": 1 << 20} | producer_options
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **options)
    await producer.start()
    try:
        started = time.perf_counter()
        sends = [await producer.send(m.topic, m.value, key=m.key, headers=list(m.headers)) for m in messages]
        await asyncio.gather(*sends)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def raw_read_seconds(bootstrap: str, expected: int, topic: str = "pulse.purchases") -> float:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"raw-{os.urandom(4).hex()}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen, started = 0, time.perf_counter()
    try:
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            seen += sum(len(records) for records in batches.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()
