"""The consumer runner: event → handler table, inbox de-duplication, retries, dead letters.

A batch is applied in one transaction; if that fails, each message is retried alone with
back-off, and one that keeps failing is dead-lettered so the others move on. The bus commits the
offsets only after this returns, i.e. after the database commit.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.bus import Bus
from services.common.catalog import CATALOG, EventPayload, topic_of
from services.common.database import Database
from services.common.delivery_tables import dead_letters
from services.common.events import Envelope, Message, from_message
from services.common.inbox import already_processed, mark_processed
from services.common.observability import ServiceMetrics
from services.common.settings import Topics
from services.common.timeutil import utcnow

log = logging.getLogger(__name__)

C = TypeVar("C")


@dataclass(frozen=True)
class Delivery(Generic[C]):
    """One event as a handler sees it: the transaction it commits in, its envelope, the service."""

    session: AsyncSession
    envelope: Envelope
    context: C

    @property
    def backfill(self) -> bool:
        return self.envelope.backfill


EventHandler = Callable[[Delivery[Any], EventPayload], Awaitable[None]]


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        handlers: dict[str, EventHandler],
        database: Database,
        bus: Bus,
        topics: Topics,
        metrics: ServiceMetrics,
        max_attempts: int = 5,
        retry_base_seconds: float = 0.2,
        context: Any = None,
    ):
        unknown = set(handlers) - set(CATALOG)
        if unknown:
            raise ValueError(f"handlers for event types not in the catalog: {sorted(unknown)}")
        self.name = name
        self.handlers = handlers
        self.database = database
        self.bus = bus
        self.metrics = metrics
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.context = context
        self.topics = sorted({topic_of(event_type, topics) for event_type in handlers})

    def attach(self) -> None:
        self.bus.subscribe(self.name, self.topics, self.handle_batch, self.metrics)

    async def handle_batch(self, messages: list[Message]) -> None:
        try:
            async with self.database.transaction() as session:
                outcomes = [await self._apply(session, message) for message in messages]
        except Exception:
            outcomes = [await self._apply_with_retries(message) for message in messages]
        for message, outcome in zip(messages, outcomes):
            self.metrics.events_consumed.labels(self.metrics.service, self.name, message.topic, outcome).inc()

    async def _apply(self, session: AsyncSession, message: Message) -> str:
        envelope = from_message(message)
        if await already_processed(session, consumer=self.name, event_id=envelope.id):
            return "duplicate"
        handler = self.handlers.get(envelope.type)
        if handler is not None:
            await handler(Delivery(session, envelope, self.context), CATALOG[envelope.type].model_validate(envelope.data))
        await mark_processed(session, consumer=self.name, event_id=envelope.id)
        return "processed" if handler else "ignored"

    async def _apply_with_retries(self, message: Message) -> str:
        for attempt in range(1, self.max_attempts + 1):
            try:
                async with self.database.transaction() as session:
                    return await self._apply(session, message)
            except Exception as error:
                last_error = error
                log.warning(
                    "consumer %s failed a message (attempt %d of %d): %s", self.name, attempt, self.max_attempts,
                    type(error).__name__, extra={"consumer": self.name, "topic": message.topic},
                )
                if attempt < self.max_attempts:
                    await asyncio.sleep(self.retry_base_seconds * 2 ** (attempt - 1))
        await self._dead_letter(message, last_error)
        return "dead_lettered"

    async def _dead_letter(self, message: Message, error: Exception) -> None:
        """Kept in the consumer's database and sent to `<topic>.dlq`; if either fails, this raises and
        the bus delivers the message again, so a dead letter is never lost either."""
        description = f"{type(error).__name__}: {error}"[:2000]
        error_headers = (
            ("error.consumer", self.name.encode()),
            ("error.type", type(error).__name__.encode()),
            ("error.message", description.encode()),
            ("error.failed_at", utcnow().isoformat().encode()),
        )
        async with self.database.transaction() as session:
            await session.execute(sa.insert(dead_letters).values(
                consumer=self.name, topic=message.topic, key=message.key.decode(errors="replace"),
                headers={name: value.decode(errors="replace") for name, value in message.headers},
                value=message.value.decode(errors="replace"), error=description, failed_at=utcnow(),
            ))
        dlq_message = Message(
            topic=f"{message.topic}.dlq", key=message.key, value=message.value, headers=message.headers + error_headers
        )
        await self.bus.publish([dlq_message])
        self.metrics.dead_letters.labels(self.metrics.service, self.name, message.topic).inc()
        log.error("consumer %s dead-lettered a message", self.name, extra={"consumer": self.name, "topic": message.topic})
