"""Kafka adapter of the bus: idempotent producer with acks=all, consumer groups, manual commits."""

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.partitioner import DefaultPartitioner

from services.common.bus import BatchHandler
from services.common.events import Message
from services.common.failures import DeliverAgain
from services.common.observability import ServiceMetrics

log = logging.getLogger(__name__)

# Records handed to a consumer at most per poll, from all its partitions: one transaction for them
# all costs far less per record than one per partition's share (a few hundred then).
BATCH_RECORDS = 5000


class TopicsNotCreated(KafkaError):
    """The broker refused to create a topic; `code` is its error code (names no values)."""

    def __init__(self, code: int):
        self.reason = f"{for_code(code).__name__} (broker code {code})"
        super().__init__(self.reason)
        self.code = code


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
        self._topics_problem: str | None = "failing: not created yet" if topics else None

    def subscribe(self, group: str, topics: list[str], handler: BatchHandler, metrics: ServiceMetrics | None = None) -> None:
        self._subscriptions.append((group, topics, handler, metrics))

    def health(self) -> dict[str, str]:
        if not self.topics:
            return {}
        return {"kafka_topics": self._topics_problem or "ok"}

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
        """Sends in record batches of one partition each, built here: aiokafka's per-message `send`
        costs more CPU than everything else the relay does. Partitions are chosen by aiokafka's own
        partitioner (murmur2 of the key, as the Java client), so a customer's events keep to one
        partition, in the order given; idempotence numbers the batches when they are drained."""
        producer = await self._ready_producer()
        deliveries = []
        for (topic, partition), records in (await _by_partition(producer, messages)).items():
            batch = producer.create_batch()
            for message in records:
                if _append(batch, message) is None:  # full (a first record always fits)
                    deliveries.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    _append(batch, message)
            deliveries.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*deliveries)

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
                    response = await admin.create_topics(missing)
                except TopicAlreadyExistsError:
                    return
                # The broker answers per topic; a refusal (policy, replication factor) is not raised.
                codes = {error[1] for error in response.topic_errors} - {0, TopicAlreadyExistsError.errno}
                if codes:
                    raise TopicsNotCreated(min(codes))
        finally:
            await admin.close()

    async def _ensure_topics_eventually(self) -> None:
        while True:
            try:
                await self.ensure_topics(list(self.topics))
                self._topics_problem = None
                log.info("kafka topics exist")
                return
            except Exception as error:
                reason = error.reason if isinstance(error, TopicsNotCreated) else type(error).__name__
                self._topics_problem = f"failing: {reason}"
                log.warning("could not create the kafka topics: %s", reason, extra={"error_type": type(error).__name__})
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
                max_poll_records=BATCH_RECORDS,
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
        # A partition whose records must come again is paused, not slept on: polling goes on for the
        # others, so the member stays in its group however long the back-off (max.poll.interval).
        held: dict[TopicPartition, tuple[float, int]] = {}  # partition → (resume at, offset to re-read)
        while not self._stopping.is_set():
            _resume_due(consumer, held)
            batches = await consumer.getmany(timeout_ms=500, max_records=BATCH_RECORDS)
            if batches:
                await self._deliver_polled(consumer, group, handler, batches, held)
            if metrics is not None:
                await _record_lag(consumer, group, metrics)

    async def _deliver_polled(self, consumer: AIOKafkaConsumer, group: str, handler: BatchHandler, batches: dict,
                              held: dict[TopicPartition, tuple[float, int]]) -> None:
        """All partitions of one poll go to the handler as one batch (one transaction, one re-score of
        each customer): the handler takes them in order, so a prefix of it is done, which is a prefix
        of each partition; the rest of each partition is read again after the back-off."""
        for partition in batches:
            held.pop(partition, None)  # records here mean a rebalance dropped the pause
        done, delay = await self._deliver(group, handler, [record for records in batches.values() for record in records])
        committed, again = {}, []
        for partition, records in batches.items():
            taken = min(done, len(records))
            done -= taken
            if taken:
                committed[partition] = records[taken - 1].offset + 1
            if taken < len(records):
                again.append((partition, records[taken].offset))
        if committed:
            await consumer.commit(committed)
        for partition, offset in again:
            consumer.seek(partition, offset)
            consumer.pause(partition)
            held[partition] = (time.monotonic() + delay, offset)

    async def _deliver(self, group: str, handler: BatchHandler, records: list) -> tuple[int, float]:
        """How many records are done, and how long to wait before the rest come again."""
        try:
            await handler([_message_of(record) for record in records])
            return len(records), 0.0
        except DeliverAgain as again:
            return again.done, again.delay_seconds
        except Exception as error:
            # Class only: an exception's message may carry payload values.
            log.warning("consumer %s failed a batch: %s; will retry", group, type(error).__name__)
            return 0, self.retry_seconds


def _append(batch, message: Message):
    return batch.append(timestamp=None, key=message.key, value=message.value, headers=list(message.headers))


async def _by_partition(producer: AIOKafkaProducer, messages: list[Message]) -> dict[tuple[str, int], list[Message]]:
    """The messages of each partition, in their order."""
    partitioner = DefaultPartitioner()
    partitions: dict[str, list[int]] = {}
    chosen: dict[tuple[str, bytes], int] = {}
    grouped: dict[tuple[str, int], list[Message]] = {}
    for message in messages:
        if message.topic not in partitions:
            partitions[message.topic] = sorted(await producer.partitions_for(message.topic))
        where = (message.topic, message.key)
        if where not in chosen:
            chosen[where] = partitioner(message.key, partitions[message.topic], partitions[message.topic])
        grouped.setdefault((message.topic, chosen[where]), []).append(message)
    return grouped


def _resume_due(consumer: AIOKafkaConsumer, held: dict[TopicPartition, tuple[float, int]]) -> None:
    now = time.monotonic()
    for partition, (resume_at, offset) in list(held.items()):
        if resume_at > now:
            continue
        del held[partition]
        if partition in consumer.paused():  # else it was revoked, or reassigned from the committed offset
            consumer.seek(partition, offset)
            consumer.resume(partition)


async def _record_lag(consumer: AIOKafkaConsumer, group: str, metrics: ServiceMetrics) -> None:
    for partition in consumer.assignment():
        highwater = consumer.highwater(partition)
        if highwater is None:
            continue
        position = await consumer.position(partition)
        metrics.consumer_lag.labels(metrics.service, group, partition.topic, str(partition.partition)).set(max(0, highwater - position))


def _message_of(record) -> Message:
    """Never fails: a null value or header stays None, for the consumer to judge. aiokafka gives the
    headers as (name, bytes or None) pairs already; copying them cost as much as decoding the event."""
    key = record.key if record.key is not None else b""
    headers = tuple(record.headers)
    return Message(topic=record.topic, key=key, value=record.value, headers=headers,
                   partition=record.partition, offset=record.offset)

