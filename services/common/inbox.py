"""Inbox: the ids of events a consumer has processed, recorded in the handler's transaction."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.delivery_tables import inbox
from services.common.timeutil import utcnow


async def already_processed(session: AsyncSession, *, consumer: str, event_id: str) -> bool:
    found = await session.scalar(
        sa.select(inbox.c.event_id).where(inbox.c.consumer == consumer, inbox.c.event_id == event_id)
    )
    return found is not None


async def mark_processed(session: AsyncSession, *, consumer: str, event_id: str) -> None:
    await session.execute(sa.insert(inbox).values(consumer=consumer, event_id=event_id, processed_at=utcnow()))
