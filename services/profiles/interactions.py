"""Interaction records: calls, visits, emails, chats and follow-ups. Notes are personal data."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.catalog import InteractionLogged
from services.common.ids import new_id
from services.common.outbox import add_events
from services.common.pagination import keyset_page
from services.common.timeutil import utcnow
from services.profiles.context import ProfilesContext
from services.profiles.customers import resolve_active
from services.profiles.models import Interaction
from services.profiles.schemas import InteractionCreate, InteractionOut


async def log_interaction(session: AsyncSession, ctx: ProfilesContext, data: InteractionCreate) -> Interaction:
    customer = await resolve_active(session, data.customer_id, field="customer_id")
    interaction = Interaction(
        id=new_id(), customer_id=customer.id, channel=data.channel, direction=data.direction, outcome=data.outcome,
        note_enc=ctx.cipher.encrypt(data.note), occurred_at=data.occurred_at, created_at=utcnow(),
    )
    session.add(interaction)
    payload = InteractionLogged(
        customer_id=customer.id, interaction_id=interaction.id, channel=data.channel, direction=data.direction,
        outcome=data.outcome, occurred_at=data.occurred_at,
    )
    await add_events(session, [ctx.event(payload)])
    return interaction


def interaction_out(ctx: ProfilesContext, interaction: Interaction, *, with_personal_data: bool) -> InteractionOut:
    return InteractionOut(
        id=interaction.id, customer_id=interaction.customer_id, channel=interaction.channel, direction=interaction.direction,
        outcome=interaction.outcome, note=ctx.cipher.decrypt(interaction.note_enc) if with_personal_data else None,
        occurred_at=interaction.occurred_at, created_at=interaction.created_at,
    )


async def list_interactions(session: AsyncSession, customer_id: str, *, cursor: str | None, limit: int) -> tuple[list[Interaction], str | None]:
    query = sa.select(Interaction).where(Interaction.customer_id == customer_id)
    return await keyset_page(session, query, time_column=Interaction.occurred_at, id_column=Interaction.id, cursor=cursor, limit=limit)