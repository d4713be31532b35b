"""The one way from a catalog payload to an outbox entry, for every service."""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.bulk import insert_rows
from services.common.catalog import EventPayload, topic_of
from services.common.delivery_tables import outbox
from services.common.events import Envelope, envelope_for
from services.common.outbox import add_events, outbox_rows
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

    def outbox_rows(self, payloads: Iterable[EventPayload], *, backfill: bool = False) -> list[dict]:
        """The outbox rows of many events, encoded where the caller likes (a worker process) and
        stored later with add_rows: a recompute of 100,000 complaints encodes off the event loop."""
        return outbox_rows(self.entry(payload, backfill=backfill) for payload in payloads)

    def outbox_rows_of_data(self, events: Iterable[tuple[type[EventPayload], dict]], *, backfill: bool = False) -> list[dict]:
        """outbox_rows() of payloads already in their JSON form, as `model_dump(mode="json",
        exclude_none=True)` gives it (times may stay datetimes: the outbox's orjson writes them the
        same way): a bulk writer of many events (a recompute of 100,000 complaints, a re-score of a
        million customers) builds that directly, without a model per event; its tests hold the two equal."""
        return outbox_rows(
            (Envelope(type=payload_type.event_type, source=self.source, subject=data["customer_id"], data=data, backfill=backfill),
             topic_of(payload_type.event_type, self.topics))
            for payload_type, data in events
        )

    async def add_rows(self, session: AsyncSession, rows: list[dict]) -> None:
        """Writes rows made by outbox_rows into the outbox inside the caller's transaction."""
        if rows:
            await insert_rows(session, outbox, rows)
            session.info["outbox_written"] = True  # wakes the relay after commit, as add_events does
