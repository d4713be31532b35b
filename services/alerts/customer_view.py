"""The customers as the alerts service knows them: tier, stage and scores, kept from events."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.models import CustomerView
from services.alerts.rules.decisions import CustomerState


async def view_of(session: AsyncSession, customer_id: str, *, at: datetime) -> CustomerView:
    view = await session.get(CustomerView, customer_id)
    if view is None:
        view = CustomerView(customer_id=customer_id, tier="unrated", updated_at=at)
        session.add(view)
    return view


def state_of(view: CustomerView) -> CustomerState:
    return CustomerState(customer_id=view.customer_id, tier=view.tier, stage=view.stage, p_alive=view.p_alive,
                         health=view.health, clv=view.clv)


def later(current: datetime | None, moment: datetime) -> datetime:
    """Events of one customer may arrive out of order (a backfill after live ones): keep the latest."""
    return moment if current is None or moment > current else current
