"""Kafka adapter of the bus: idempotent producer with acks=all, consumer groups, manual commits."""

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.common.bus import BatchHandler
from services.common.events import Message
from services.common.observability import ServiceMetrics

log = logging.getLogger(__name__)


class KafkaBus:
    def __init__(
        self,
        *,
        bootstrap: str,
        client_id: str,
        partitions: int = 12,
        replication_factor: int = 1,
        retry_seconds: float = 1.0,
        topics: list[str] = (),
    ):
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.retry_seconds = retry_seconds
        self._producer: AIOKafkaProducer | None = None
        self._subscriptions: list[tuple[str, list[str], BatchHandler, ServiceMetrics | None]] = []
        self.topics = topics
        self._tasks: list[asyncio.Task] = []
        self._started_subscriptions = 0
        self._stopping = asyncio.Event()

    def subscribe(self, group: str, topics: list[str], handler: BatchHandler, metrics: ServiceMetrics | None = None) -> None:
        self._subscriptions.append((group, topics, handler, metrics))

    def register(self, group: str, topics: list[str]) -> None:
        """Nothing to do: a Kafka group keeps its own offsets, and the broker keeps the records for it."""

    async def start(self) -> None:
        # Start never blocks on the broker: a service must take writes while Kafka is down.
        # Several services of one process may share the bus; each start adds the new subscriptions.
        self._stopping.clear()
        if not self._tasks and self.topics:
            self._tasks.append(asyncio.create_task(self._ensure_topics_eventually(), name="ensure-topics"))
        for group, topics, handler, metrics in self._subscriptions[self._started_subscriptions:]:
            task = asyncio.create_task(self._consume(group, topics, handler, metrics), name=f"consume:{group}")
            self._tasks.append(task)
        self._started_subscriptions = len(self._subscriptions)

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._started_subscriptions = 0
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, messages: list[Message]) -> None:
        producer = await self._ready_producer()
        acknowledgements = [
            await producer.send(message.topic, value=message.value, key=message.key, headers=list(message.headers))
            for message in messages
        ]
        await asyncio.gather(*acknowledgements)

    async def ensure_topics(self, topics: list[str]) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=f"{self.client_id}-admin")
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [
                NewTopic(name=topic, num_partitions=self.partitions, replication_factor=self.replication_factor)
                for topic in topics if topic not in existing
            ]
            if missing:
                try:
                    await admin.create_topics(missing)
                except TopicAlreadyExistsError:
                    pass
        finally:
            await admin.close()

    async def _ensure_topics_eventually(self) -> None:
        while True:
            try:
                await self.ensure_topics(list(self.topics))
                return
            except Exception as error:
                log.warning("could not create topics yet: %s", type(error).__name__)
                await asyncio.sleep(self.retry_seconds * 5)

    async def _ready_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                client_id=self.client_id,
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
                max_batch_size=1024 * 1024,
                request_timeout_ms=15000,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _consume(self, group: str, topics: list[str], handler: BatchHandler, metrics: ServiceMetrics | None) -> None:
        while not self._stopping.is_set():
            consumer = AIOKafkaConsumer(
                *topics,
                bootstrap_servers=self.bootstrap,
                group_id=group,
                client_id=f"{self.client_id}-{group}",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=1000,
            )
            try:
                await consumer.start()
                await self._consume_loop(consumer, group, handler, metrics)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("consumer %s lost its broker; reconnecting", group, exc_info=True)
                await asyncio.sleep(self.retry_seconds)
            finally:
                await consumer.stop()

    async def _consume_loop(self, consumer: AIOKafkaConsumer, group: str, handler: BatchHandler, metrics: ServiceMetrics | None) -> None:
        while not self._stopping.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            for partition, records in batches.items():
                messages = [_message_of(record) for record in records]
                try:
                    await handler(messages)
                except Exception:
                    # Not committed: rewind so the same records come again after a pause.
                    log.exception("consumer %s failed a batch on %s; will retry", group, partition)
                    consumer.seek(partition, records[0].offset)
                    await asyncio.sleep(self.retry_seconds)
                    continue
                await consumer.commit({partition: records[-1].offset + 1})
            if metrics is not None:
                await _record_lag(consumer, group, metrics)


async def _record_lag(consumer: AIOKafkaConsumer, group: str, metrics: ServiceMetrics) -> None:
    for partition in consumer.assignment():
        highwater = consumer.highwater(partition)
        if highwater is None:
            continue
        position = await consumer.position(partition)
        metrics.consumer_lag.labels(metrics.service, group, partition.topic, str(partition.partition)).set(max(0, highwater - position))


def _message_of(record) -> Message:
    key = record.key if record.key is not None else b""
    headers = tuple((name, value if isinstance(value, bytes) else bytes(value)) for name, value in record.headers)
    return Message(topic=record.topic, key=key, value=record.value, headers=headers)

