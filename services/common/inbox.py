"""Inbox: the ids of events a consumer has processed, recorded in the handler's transaction."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.bulk import any_of, insert_rows
from services.common.database import Database
from services.common.delivery_tables import inbox
from services.common.timeutil import utcnow


async def mark_processed(session: AsyncSession, *, consumer: str, event_id: str) -> None:
    await session.execute(sa.insert(inbox).values(consumer=consumer, event_id=event_id, processed_at=utcnow()))


async def processed_among(session: AsyncSession, *, consumer: str, event_ids: list[str]) -> set[str]:
    """Those of `event_ids` the consumer processed before (one query on PostgreSQL)."""
    found: set[str] = set()
    for asked in any_of(session, inbox.c.event_id, event_ids):
        found.update(await session.scalars(sa.select(inbox.c.event_id).where(inbox.c.consumer == consumer, asked)))
    return found


async def mark_processed_many(session: AsyncSession, *, consumer: str, event_ids: list[str]) -> None:
    if event_ids:
        now = utcnow()
        await insert_rows(session, inbox, [{"consumer": consumer, "event_id": event_id, "processed_at": now}
                                           for event_id in event_ids])


async def purge_inbox(database: Database, older_than: datetime, *, batch_size: int = 10_000) -> int:
    """Forgets ids processed before `older_than`, in short transactions; returns how many.

    The retention must outlast any redelivery (Kafka's retention, a replayed DLQ), or an old event
    that comes back would be handled twice."""
    purged = 0
    while True:
        async with database.transaction() as session:
            oldest = (
                sa.select(inbox.c.consumer, inbox.c.event_id)
                .where(inbox.c.processed_at < older_than).limit(batch_size)
            )
            deleted = await session.execute(sa.delete(inbox).where(sa.tuple_(inbox.c.consumer, inbox.c.event_id).in_(oldest)))
        purged += deleted.rowcount
        if deleted.rowcount < batch_size:
            return purged
