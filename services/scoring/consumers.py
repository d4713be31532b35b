"""What the scoring service does with each event: record the fact, then re-score the customer.

The frequent facts (purchases, refunds, interactions, feedback) and the re-scoring are gathered
per consumer batch and written at its end (batches.ScoringBatch): each customer once per batch.

Events name customers; a customer merged away is followed to the survivor, so an event that
arrives after the merge lands where the merged history went.
"""

from services.common.catalog import (
    ComplaintEvent, CustomerCreated, CustomerErased, CustomerMerged, FeedbackReceived, InteractionLogged,
    PurchaseRecorded, PurchaseRefunded, SurveyResponded,
)
from services.common.consumers import Delivery
from services.common.timers import TimerDelivery
from services.scoring import facts
from services.scoring.cards import CHURN_TIMER, rescore
from services.scoring.context import ScoringContext


async def _customer(delivery: Delivery[ScoringContext], customer_id: str) -> str:
    survivor = await facts.survivor_of(delivery.session, customer_id)
    await facts.know_customer(delivery.session, survivor)
    return survivor


def _rescore(delivery: Delivery[ScoringContext], customer_id: str, reason: str) -> None:
    """Once per batch, at its end (batches.ScoringBatch)."""
    delivery.batch.rescore(customer_id, reason, backfill=delivery.backfill)


async def on_customer_created(delivery: Delivery[ScoringContext], payload: CustomerCreated) -> None:
    delivery.batch.customer_created(payload.customer_id, payload.created_at)
    _rescore(delivery, payload.customer_id, "created")


async def on_customer_merged(delivery: Delivery[ScoringContext], payload: CustomerMerged) -> None:
    await delivery.batch.flush()  # the duplicate's facts noted so far move with the rest
    survivor = await _customer(delivery, payload.customer_id)
    await facts.merge(delivery.session, survivor=survivor, duplicate=payload.merged_customer_id)
    _rescore(delivery, survivor, "merged")


async def on_customer_erased(delivery: Delivery[ScoringContext], payload: CustomerErased) -> None:
    await facts.mark_erased(delivery.session, await _customer(delivery, payload.customer_id), erased_at=payload.erased_at)


async def on_purchase_recorded(delivery: Delivery[ScoringContext], payload: PurchaseRecorded) -> None:
    delivery.batch.add_line(facts.purchase_line(payload.customer_id, purchase_id=payload.purchase_id, amount=payload.amount,
                                                occurred_at=payload.occurred_at))
    _rescore(delivery, payload.customer_id, "purchase")


async def on_purchase_refunded(delivery: Delivery[ScoringContext], payload: PurchaseRefunded) -> None:
    delivery.batch.add_line(facts.refund_line(
        payload.customer_id, refund_id=payload.refund_id, purchase_id=payload.purchase_id, amount=payload.amount,
        purchase_occurred_at=payload.purchase_occurred_at, occurred_at=payload.occurred_at))
    _rescore(delivery, payload.customer_id, "refund")


async def on_interaction_logged(delivery: Delivery[ScoringContext], payload: InteractionLogged) -> None:
    delivery.batch.interaction(payload.customer_id, payload.occurred_at)


async def on_survey_responded(delivery: Delivery[ScoringContext], payload: SurveyResponded) -> None:
    customer_id = await _customer(delivery, payload.customer_id)
    await facts.record_answer(delivery.session, customer_id, kind=payload.kind, response_id=payload.response_id,
                              score=payload.score, answered_at=payload.answered_at)
    _rescore(delivery, customer_id, "survey")


async def on_feedback_received(delivery: Delivery[ScoringContext], payload: FeedbackReceived) -> None:
    delivery.batch.feedback(payload.customer_id, negative=payload.sentiment == "negative")


async def on_complaint_changed(delivery: Delivery[ScoringContext], payload: ComplaintEvent) -> None:
    customer_id = await _customer(delivery, payload.customer_id)
    await facts.record_complaint(delivery.session, customer_id, facts.ComplaintChange(
        payload.complaint_id, payload.status, breached=any(metric.breached for metric in payload.sla),
        changed_at=payload.changed_at, first_response_seconds=_measured(payload, "first_response"),
        resolution_seconds=_measured(payload, "resolution")))
    _rescore(delivery, customer_id, "complaint")


def _measured(payload: ComplaintEvent, metric: str) -> float | None:
    """The time the SLA clock of `metric` counted until it was fulfilled (its latest instance)."""
    fulfilled = [m for m in payload.sla if m.metric == metric and m.state == "fulfilled"]
    return max(fulfilled, key=lambda m: m.instance).consumed_seconds if fulfilled else None


HANDLERS = {
    "pulse.customer.created.v1": on_customer_created,
    "pulse.customer.merged.v1": on_customer_merged,
    "pulse.customer.erased.v1": on_customer_erased,
    "pulse.purchase.recorded.v1": on_purchase_recorded,
    "pulse.purchase.refunded.v1": on_purchase_refunded,
    "pulse.interaction.logged.v1": on_interaction_logged,
    "pulse.survey.responded.v1": on_survey_responded,
    "pulse.feedback.received.v1": on_feedback_received,
    "pulse.complaint.opened.v1": on_complaint_changed,
    "pulse.complaint.updated.v1": on_complaint_changed,
    "pulse.complaint.resolved.v1": on_complaint_changed,
    "pulse.complaint.reopened.v1": on_complaint_changed,
    "pulse.complaint.closed.v1": on_complaint_changed,
}


async def on_churn_timer(delivery: TimerDelivery[ScoringContext]) -> None:
    """A silent customer's p_alive crossed a stage threshold: re-scored at the timer's moment or later."""
    timer = delivery.timer
    await rescore(delivery.session, delivery.context, timer.key, reason="timer", as_of=max(timer.fired_at, timer.due_at))


TIMERS = {CHURN_TIMER: on_churn_timer}
