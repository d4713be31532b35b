"""The consumer runner: event → handler table, inbox de-duplication, retries, dead letters.

A batch is applied in one transaction; the bus commits the offsets only after this returns, i.e.
after the database commit. What goes wrong is one of three things:
- a record that cannot be decoded (not our CloudEvent, unknown type, payload against its schema)
  is dead-lettered at once: trying again cannot help;
- a passing failure (database away, lock, serialization conflict) dead-letters nothing: the batch
  handler raises `DeliverAgain` with what is done, and the bus holds the partition back for a
  back-off that grows to minutes while it keeps polling the others;
- any other error is retried message by message, and a message that keeps failing alone is
  dead-lettered so that the others move on.

A service may also declare a per-batch state (`batch`): one is made for each transaction, handed to
every handler of it (`Delivery.batch`), and finished just before the commit. Handlers then only
note what they need and the state writes it for the whole batch at once (set-based); a message
retried alone gets a batch of its own, so the promises above hold unchanged.
"""

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.bus import Bus
from services.common.collector import collector_paused
from services.common.catalog import CATALOG, EventPayload, topic_of
from services.common.database import Database
from services.common.dead_letters import HANDLER_FAILED, SCHEMA_INVALID, UNDECODABLE, UNKNOWN_TYPE, Failure, dlq_message, record_once
from services.common.events import Envelope, Message, Undecodable, from_message
from services.common.failures import DeliverAgain, database_code, is_transient
from services.common.inbox import mark_processed_many, processed_among
from services.common.observability import ServiceMetrics
from services.common.settings import Topics

log = logging.getLogger(__name__)

C = TypeVar("C")


@dataclass(frozen=True)
class Delivery(Generic[C]):
    """One event as a handler sees it: the transaction it commits in, its envelope, the service."""

    session: AsyncSession
    envelope: Envelope
    context: C
    batch: Any = None  # the service's per-batch state, when it declares one

    @property
    def backfill(self) -> bool:
        return self.envelope.backfill


EventHandler = Callable[[Delivery[Any], EventPayload], Awaitable[None]]


class BatchState(Protocol):
    """What handlers of one transaction gather; `finish` writes it just before the commit."""

    async def finish(self) -> None: ...


BatchFactory = Callable[[AsyncSession, Any], BatchState]  # (session, the service's context) → state


@dataclass(frozen=True)
class _Decoded:
    message: Message
    envelope: Envelope
    payload: EventPayload | None  # None: a catalog type this consumer does not handle


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
        backoff_max_seconds: float = 300.0,
        context: Any = None,
        batch: BatchFactory | None = None,
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
        self.backoff_max_seconds = backoff_max_seconds
        self.context = context
        self.batch = batch
        self.topics = sorted({topic_of(event_type, topics) for event_type in handlers})
        self._passing_failures: dict[tuple[str, int | None], int] = {}  # in a row, per partition
        # Registered when built, subscribed when started: on the in-process bus no relay counts a
        # row as delivered before this group has it, however late the group starts.
        bus.register(name, self.topics)

    def attach(self) -> None:
        self.bus.subscribe(self.name, self.topics, self.handle_batch, self.metrics)

    async def handle_batch(self, messages: list[Message]) -> None:
        outcomes: list[str] = []
        stream = (messages[0].topic, messages[0].partition)
        try:
            with collector_paused():
                await self._handle(messages, outcomes)
        except Exception as error:
            if not is_transient(error):
                raise
            raise DeliverAgain(done=len(outcomes), delay_seconds=self._back_off(stream, error)) from error
        finally:
            counted = Counter((message.topic, outcome) for message, outcome in zip(messages, outcomes))
            for (topic, outcome), count in counted.items():
                self.metrics.events_consumed.labels(self.metrics.service, self.name, topic, outcome).inc(count)
        self._passing_failures.pop(stream, None)

    async def _handle(self, messages: list[Message], outcomes: list[str]) -> None:
        """Appends one outcome per message as soon as that message is committed."""
        decoded = [self._decode(message) for message in messages]
        start = 0
        while start < len(decoded):
            if isinstance(decoded[start], Failure):
                outcomes.append(await self._dead_letter(messages[start], decoded[start]))
                start += 1
                continue
            end = start + 1
            while end < len(decoded) and not isinstance(decoded[end], Failure):
                end += 1
            await self._apply_run(decoded[start:end], outcomes)
            start = end

    def _decode(self, message: Message) -> _Decoded | Failure:
        try:
            envelope = from_message(message)
        except Undecodable as error:
            return Failure(code=UNDECODABLE, error_type=type(error).__name__, reason=error.reason, field=error.field)
        model = CATALOG.get(envelope.type)
        if model is None:
            return Failure(code=UNKNOWN_TYPE, error_type="UnknownEventType", event_id=envelope.id)
        if envelope.type not in self.handlers:
            return _Decoded(message, envelope, None)
        try:
            return _Decoded(message, envelope, model.model_validate(envelope.data))
        except ValidationError as error:
            # The first error's top-level field is a schema name; deeper locations may be data keys.
            first = error.errors(include_input=False, include_url=False)[0]
            field = str(first["loc"][0]) if first["loc"] else None
            return Failure(code=SCHEMA_INVALID, error_type=type(error).__name__, reason=first["type"], field=field,
                           event_id=envelope.id)

    async def _apply_run(self, run: list[_Decoded], outcomes: list[str]) -> None:
        try:
            async with self.database.transaction() as session:
                applied = await self._apply(session, run)
            outcomes.extend(applied)
            return
        except Exception as error:
            if is_transient(error):
                raise
        for item in run:  # find the one that fails, and let the others through
            outcomes.append(await self._apply_alone(item))

    async def _apply(self, session: AsyncSession, run: list[_Decoded]) -> list[str]:
        """Applies the events not processed before, each once (a repeat within the run too)."""
        seen = await processed_among(session, consumer=self.name, event_ids=[item.envelope.id for item in run])
        batch = None if self.batch is None else self.batch(session, self.context)
        outcomes, fresh = [], []
        for item in run:
            envelope = item.envelope
            if envelope.id in seen:
                outcomes.append("duplicate")
                continue
            seen.add(envelope.id)
            fresh.append(envelope.id)
            if item.payload is not None:
                await self.handlers[envelope.type](Delivery(session, envelope, self.context, batch), item.payload)
            outcomes.append("processed" if item.payload is not None else "ignored")
        if batch is not None:
            await batch.finish()
        await mark_processed_many(session, consumer=self.name, event_ids=fresh)
        return outcomes

    async def _apply_alone(self, item: _Decoded) -> str:
        for attempt in range(1, self.max_attempts + 1):
            try:
                async with self.database.transaction() as session:
                    return (await self._apply(session, [item]))[0]
            except Exception as error:
                if is_transient(error):
                    raise
                last_error = error
                log.warning(
                    "consumer %s failed a message (attempt %d of %d): %s", self.name, attempt, self.max_attempts,
                    type(error).__name__, extra={"consumer": self.name, "topic": item.message.topic},
                )
                if attempt < self.max_attempts:
                    await asyncio.sleep(self.retry_base_seconds * 2 ** (attempt - 1))
        return await self._dead_letter(item.message, Failure.of_error(HANDLER_FAILED, last_error, event_id=item.envelope.id))

    async def _dead_letter(self, message: Message, failure: Failure) -> str:
        """Kept once in the consumer's database and sent to `<topic>.dlq` before that commits; if
        either fails, this raises and the bus delivers the message again, so a dead letter is never
        lost, and a record that comes back is not dead-lettered twice."""
        async with self.database.transaction() as session:
            new = await record_once(session, message, failure, consumer=self.name)
            if new:
                await self.bus.publish([dlq_message(message, failure, consumer=self.name)])
        if new:
            self.metrics.dead_letters.labels(self.metrics.service, self.name, message.topic).inc()
            log.error("consumer %s dead-lettered a message: %s", self.name, failure.describe(),
                      extra={"consumer": self.name, "topic": message.topic})
        return "dead_lettered"

    def _back_off(self, stream: tuple[str, int | None], error: Exception) -> float:
        failures = self._passing_failures.get(stream, 0)
        self._passing_failures[stream] = failures + 1
        delay = min(self.backoff_max_seconds, self.retry_base_seconds * 2 ** min(failures, 30))
        log.warning(
            "consumer %s met a passing failure (%s %s); delivering again in %.1f s", self.name,
            type(error).__name__, database_code(error) or "", delay, extra={"consumer": self.name, "topic": stream[0]},
        )
        return delay
