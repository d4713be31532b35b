"""What the feedback service does when an event arrives or one of its timers is due."""

import logging

import sqlalchemy as sa

from services.common.catalog import CustomerErased, TierChanged
from services.common.consumers import Delivery, EventHandler
from services.common.timers import TimerDelivery, TimerHandler
from services.feedback import complaint_handling, survey_handling
from services.feedback.complaint_handling import AUTO_CLOSE_TIMER, CSAT_TIMER, Change
from services.feedback.complaints import lifecycle
from services.feedback.context import FeedbackContext
from services.feedback.models import complaint_history, complaints, customer_tiers, feedback_items, points_ledger, responses

log = logging.getLogger(__name__)
SYSTEM = "system"


async def on_customer_erased(delivery: Delivery[FeedbackContext], payload: CustomerErased) -> None:
    """The customer's free text goes; scores, counts and deadlines stay."""
    session, customer = delivery.session, payload.customer_id
    their_complaints = sa.select(complaints.c.id).where(complaints.c.customer_id == customer)
    await session.execute(sa.update(complaints).where(complaints.c.customer_id == customer).values(description_text=None))
    await session.execute(sa.update(complaint_history).where(complaint_history.c.complaint_id.in_(their_complaints)).values(reason_text=None))
    await session.execute(sa.update(responses).where(responses.c.customer_id == customer).values(comment=None))
    await session.execute(sa.update(points_ledger).where(points_ledger.c.customer_id == customer).values(note_text=None))
    await session.execute(sa.update(feedback_items).where(feedback_items.c.customer_id == customer).values(text=None))


async def on_tier_changed(delivery: Delivery[FeedbackContext], payload: TierChanged) -> None:
    """The local view of each customer's tier; a newer tier re-matches their open complaints."""
    session = delivery.session
    known = (await session.execute(sa.select(customer_tiers).where(customer_tiers.c.customer_id == payload.customer_id))).first()
    if known is not None and known.changed_at > payload.changed_at:
        return  # a late event: the tier it carries was already replaced
    if known is None:
        await session.execute(sa.insert(customer_tiers).values(customer_id=payload.customer_id, tier=payload.tier, changed_at=payload.changed_at))
    else:
        await session.execute(sa.update(customer_tiers).where(customer_tiers.c.customer_id == payload.customer_id)
                              .values(tier=payload.tier, changed_at=payload.changed_at))
    if known is None or known.tier != payload.tier:
        await complaint_handling.rematch_customer(session, delivery.context, payload.customer_id, payload.tier, SYSTEM)


async def on_csat_due(delivery: TimerDelivery[FeedbackContext]) -> None:
    """The CSAT invitation that follows a resolved complaint (cancelled when it was reopened)."""
    session, ctx = delivery.session, delivery.context
    complaint = await complaint_handling.get_complaint(session, delivery.timer.payload["complaint_id"])
    if complaint.status not in (lifecycle.RESOLVED, lifecycle.CLOSED) or complaint.without_survey:
        return
    survey = await survey_handling.complaint_csat_survey(session, ctx)
    outcome = await survey_handling.invite(session, ctx, survey, customer_id=complaint.customer_id, channel="link", complaint_id=complaint.id)
    if isinstance(outcome, survey_handling.Throttled):
        log.info("CSAT invitation after a complaint dropped: the customer is throttled", extra={"service": "feedback"})


async def on_auto_close_due(delivery: TimerDelivery[FeedbackContext]) -> None:
    complaint = await complaint_handling.get_complaint(delivery.session, delivery.timer.payload["complaint_id"], for_update=True)
    if complaint.status != lifecycle.RESOLVED:
        return
    days = delivery.context.settings.complaint_auto_close_days
    await complaint_handling.transition(delivery.session, delivery.context, complaint, "close",
                                        Change(SYSTEM, "close", changes={"auto_close_after_days": days}))


HANDLERS: dict[str, EventHandler] = {
    "pulse.customer.erased.v1": on_customer_erased,
    "pulse.tier.changed.v1": on_tier_changed,
}

TIMERS: dict[str, TimerHandler] = {
    CSAT_TIMER: on_csat_due,
    AUTO_CLOSE_TIMER: on_auto_close_due,
}
