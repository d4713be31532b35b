"""Each customer's points ledger in the database; the rules are surveys/points.py."""

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.catalog import LoyaltyPointsChanged
from services.common.errors import Problem
from services.feedback.context import FeedbackContext
from services.feedback.models import points_ledger
from services.feedback.surveys import points as rules


async def entries(session: AsyncSession, customer_id: str) -> list:
    return list((await session.execute(
        sa.select(points_ledger).where(points_ledger.c.customer_id == customer_id).order_by(points_ledger.c.at, points_ledger.c.id)
    )).all())


def _ledger(rows) -> list[rules.LedgerEntry]:
    return [rules.LedgerEntry(r.kind, r.points, r.at, r.expires_at) for r in rows]


async def _book(session: AsyncSession, ctx: FeedbackContext, customer_id: str, kind: str, points: int, reason: str, **columns) -> None:
    now = ctx.now()
    await session.execute(sa.insert(points_ledger).values(customer_id=customer_id, kind=kind, points=points, reason=reason, at=now, **columns))
    balance = rules.balance(_ledger(await entries(session, customer_id)))
    await ctx.events.add(session, LoyaltyPointsChanged(customer_id=customer_id, kind=kind, points=points, balance=balance, changed_at=now))


async def award(session: AsyncSession, ctx: FeedbackContext, customer_id: str, points: int, *, invitation_id: str) -> None:
    expires_at = ctx.now() + timedelta(days=ctx.settings.points_expiry_days)
    await _book(session, ctx, customer_id, rules.AWARD, points, "survey_answered", invitation_id=invitation_id, expires_at=expires_at)


async def expire_due(session: AsyncSession, ctx: FeedbackContext, customer_id: str) -> None:
    """Books the expiry of points whose time has come (when the ledger is next read or used)."""
    due = rules.points_to_expire(_ledger(await entries(session, customer_id)), ctx.now())
    if due > 0:
        await _book(session, ctx, customer_id, rules.EXPIRE, -due, "expired")


async def redeem(session: AsyncSession, ctx: FeedbackContext, customer_id: str, points: int, *, reason: str, note: str | None) -> None:
    # Two redemptions at once must not both see the old balance (PostgreSQL; SQLite writes one at a time).
    await session.execute(sa.select(points_ledger.c.id).where(points_ledger.c.customer_id == customer_id).with_for_update())
    await expire_due(session, ctx, customer_id)
    try:
        rules.check_redeemable(_ledger(await entries(session, customer_id)), points)
    except rules.NotEnoughPoints as error:
        raise Problem(409, "Not enough points", str(error), field="points", balance=error.balance) from error
    await _book(session, ctx, customer_id, rules.REDEEM, -points, reason, note_text=note)


def balance(rows) -> int:
    return rules.balance(_ledger(rows))


async def expire_all_due(ctx: FeedbackContext) -> None:
    """The hourly job: book the expiry of every customer's points whose time has come, so that
    balances and events follow even for customers nobody looks at."""
    async with ctx.database.transaction() as session:
        customers = (await session.scalars(sa.select(points_ledger.c.customer_id).distinct().where(
            points_ledger.c.kind == rules.AWARD, points_ledger.c.expires_at <= ctx.now(),
        ))).all()
        for customer_id in customers:
            await expire_due(session, ctx, customer_id)
