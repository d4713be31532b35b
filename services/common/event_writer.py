"""The one way from a catalog payload to an outbox entry, for every service."""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.catalog import EventPayload, topic_of
from services.common.events import Envelope, envelope_for
from services.common.outbox import add_events
from services.common.settings import Topics


@dataclass(frozen=True)
class EventWriter:
    """Events of one service: its source, the deployment's topic names, keyed by customer."""

    source: str
    topics: Topics

    def entry(self, payload: EventPayload, *, backfill: bool = False) -> tuple[Envelope, str]:
        return envelope_for(payload, source=self.source, backfill=backfill), topic_of(payload.event_type, self.topics)

    async def add(self, session: AsyncSession, payload: EventPayload, *, backfill: bool = False) -> None:
        """Writes the event into the outbox inside the caller's transaction."""
        await add_events(session, [self.entry(payload, backfill=backfill)])

    async def add_many(self, session: AsyncSession, payloads: Iterable[EventPayload], *, backfill: bool = False) -> None:
        await add_events(session, [self.entry(payload, backfill=backfill) for payload in payloads])
