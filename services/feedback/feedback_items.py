"""Feedback from every channel: recorded, listed, and marked handled by someone at some time."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.catalog import FeedbackReceived
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.pagination import keyset_page
from services.feedback.context import FeedbackContext
from services.feedback.models import feedback_items
from services.feedback.records import one_or_404


def sentiment(rating: int | None) -> str | None:
    if rating is None:
        return None
    return "positive" if rating >= 4 else "neutral" if rating == 3 else "negative"


async def record_feedback(session: AsyncSession, ctx: FeedbackContext, *, customer_id: str | None, channel: str, category: str,
                          rating: int | None, text: str | None, received_at: datetime | None):
    now = ctx.now()
    item_id = new_id()
    received_at = received_at or now
    await session.execute(sa.insert(feedback_items).values(
        id=item_id, customer_id=customer_id, channel=channel, category=category, rating=rating, text=text,
        received_at=received_at, created_at=now,
    ))
    # Anonymous feedback (a suggestion box) has no customer; its event is keyed by its own id.
    await ctx.events.add(session, FeedbackReceived(
        customer_id=customer_id or f"anonymous:{item_id}", feedback_id=item_id, channel=channel, category=category, rating=rating,
        sentiment=sentiment(rating), received_at=received_at,
    ))
    return await get_feedback(session, item_id)


async def get_feedback(session: AsyncSession, item_id: str, *, for_update: bool = False):
    return await one_or_404(session, feedback_items, item_id, what="feedback", field="feedback_id", for_update=for_update)


async def mark_handled(session: AsyncSession, ctx: FeedbackContext, row, *, handled_by: str):
    if row.handled_at is not None:
        raise Problem(409, "Already handled", f"handled by {row.handled_by} at {row.handled_at.isoformat()}", field="feedback_id")
    await session.execute(sa.update(feedback_items).where(feedback_items.c.id == row.id).values(handled_at=ctx.now(), handled_by=handled_by))
    return await get_feedback(session, row.id)


@dataclass(frozen=True)
class FeedbackFilter:
    channel: str | None = None
    category: str | None = None
    customer_id: str | None = None
    handled: bool | None = None


async def list_feedback(session: AsyncSession, filters: FeedbackFilter, *, cursor: str | None, limit: int):
    query = sa.select(feedback_items)
    for column in ("channel", "category", "customer_id"):
        if getattr(filters, column) is not None:
            query = query.where(feedback_items.c[column] == getattr(filters, column))
    if filters.handled is not None:
        handled = feedback_items.c.handled_at.is_not(None)
        query = query.where(handled if filters.handled else sa.not_(handled))
    return await keyset_page(session, query, time_column=feedback_items.c.created_at, id_column=feedback_items.c.id,
                             cursor=cursor, limit=limit, rows=True)
