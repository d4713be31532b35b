"""Events the alerts service acts on. Backfill events only update what it knows of a customer:
they never raise or resolve an alert."""

from services.alerts import alerting
from services.alerts.context import AlertsContext
from services.alerts.customer_view import later, state_of, view_of
from services.alerts.rules import decisions
from services.alerts.rules.sla import plan_for
from services.alerts.timers import FOLLOW_UP_TIMER, apply_sla_plan, arm_follow_up
from services.common import catalog
from services.common.consumers import Delivery
from services.common.timers import cancel_timer

Handled = Delivery[AlertsContext]
CHURN_OVER_STAGES = {"new", "active"}


async def on_tier_changed(delivery: Handled, payload: catalog.TierChanged) -> None:
    view = await view_of(delivery.session, payload.customer_id, at=payload.changed_at)
    view.tier, view.clv, view.updated_at = payload.tier, payload.clv, payload.changed_at
    await arm_follow_up(delivery.session, delivery.context, customer_id=view.customer_id, tier=view.tier,
                        last_contact=view.last_interaction_at or payload.changed_at)


async def on_lifecycle_changed(delivery: Handled, payload: catalog.LifecycleChanged) -> None:
    session, ctx = delivery.session, delivery.context
    view = await view_of(session, payload.customer_id, at=payload.changed_at)
    view.stage, view.updated_at = payload.stage, payload.changed_at
    view.p_alive = payload.p_alive if payload.p_alive is not None else view.p_alive
    if delivery.backfill:
        return
    if payload.stage in CHURN_OVER_STAGES:
        await alerting.resolve_open(session, ctx, customer_id=view.customer_id, kinds={"churn_risk"},
                                    resolution="reactivated", at=ctx.clock.now())
        return
    version, rules = await alerting.current_rules(session)
    candidate = decisions.churn_on_stage(rules, state_of(view), previous_stage=payload.previous_stage)
    await _raise(delivery, candidate, version, rules.churn_risk.quiet_period_hours)


async def on_score_updated(delivery: Handled, payload: catalog.ScoreUpdated) -> None:
    view = await view_of(delivery.session, payload.customer_id, at=payload.scored_at)
    view.health, view.updated_at = payload.health, payload.scored_at
    view.p_alive = payload.p_alive if payload.p_alive is not None else view.p_alive
    view.clv = payload.clv if payload.clv is not None else view.clv
    if delivery.backfill:
        return
    version, rules = await alerting.current_rules(delivery.session)
    await _raise(delivery, decisions.churn_on_score(rules, state_of(view)), version, rules.churn_risk.quiet_period_hours)


async def on_purchase_recorded(delivery: Handled, payload: catalog.PurchaseRecorded) -> None:
    view = await view_of(delivery.session, payload.customer_id, at=payload.occurred_at)
    view.last_purchase_at = later(view.last_purchase_at, payload.occurred_at)
    if not delivery.backfill:
        ctx = delivery.context
        await alerting.resolve_open(delivery.session, ctx, customer_id=view.customer_id, kinds={"churn_risk"},
                                    resolution="purchase", at=ctx.clock.now())


async def on_interaction_logged(delivery: Handled, payload: catalog.InteractionLogged) -> None:
    session, ctx = delivery.session, delivery.context
    view = await view_of(session, payload.customer_id, at=payload.occurred_at)
    view.last_interaction_at = later(view.last_interaction_at, payload.occurred_at)
    await arm_follow_up(session, ctx, customer_id=view.customer_id, tier=view.tier, last_contact=view.last_interaction_at)
    if not delivery.backfill:
        await alerting.resolve_open(session, ctx, customer_id=view.customer_id, kinds={"follow_up_due"},
                                    resolution="interaction", at=ctx.clock.now())


async def on_survey_responded(delivery: Handled, payload: catalog.SurveyResponded) -> None:
    if delivery.backfill:
        return
    session = delivery.session
    view = await view_of(session, payload.customer_id, at=payload.answered_at)
    version, rules = await alerting.current_rules(session)
    candidate = decisions.detractor(rules, state_of(view), response_id=payload.response_id, survey_kind=payload.kind,
                                    score=payload.score, scale_min=payload.scale_min, scale_max=payload.scale_max)
    await _raise(delivery, candidate, version, rules.detractor.quiet_period_hours)


async def on_complaint(delivery: Handled, payload: catalog.ComplaintEvent) -> None:
    session, ctx = delivery.session, delivery.context
    plan = plan_for(customer_id=payload.customer_id, complaint_id=payload.complaint_id, status=payload.status,
                    priority=payload.priority, snapshots=payload.sla)
    if delivery.backfill:
        plan.arm.clear()  # history: what it would have raised is long past
        plan.resolve_causes.clear()
    await apply_sla_plan(session, plan)
    for cause in plan.resolve_causes:
        await alerting.resolve_open(session, ctx, customer_id=payload.customer_id, kinds={"sla_warning", "sla_breached"},
                                    resolution="complaint_answered", at=ctx.clock.now(), cause_prefix=cause)


async def on_customer_erased(delivery: Handled, payload: catalog.CustomerErased) -> None:
    view = await view_of(delivery.session, payload.customer_id, at=payload.erased_at)
    await delivery.session.delete(view)
    await cancel_timer(delivery.session, kind=FOLLOW_UP_TIMER, key=payload.customer_id)


async def _raise(delivery: Handled, candidate: decisions.Candidate | None, version: int, quiet_hours: float) -> None:
    if candidate is not None:
        ctx = delivery.context
        await alerting.raise_alert(delivery.session, ctx, candidate, rule_version=version, quiet_hours=quiet_hours,
                                   detected_at=ctx.clock.now())


HANDLERS = {
    catalog.TierChanged.event_type: on_tier_changed,
    catalog.LifecycleChanged.event_type: on_lifecycle_changed,
    catalog.ScoreUpdated.event_type: on_score_updated,
    catalog.PurchaseRecorded.event_type: on_purchase_recorded,
    catalog.InteractionLogged.event_type: on_interaction_logged,
    catalog.SurveyResponded.event_type: on_survey_responded,
    catalog.ComplaintOpened.event_type: on_complaint,
    catalog.ComplaintUpdated.event_type: on_complaint,
    catalog.ComplaintResolved.event_type: on_complaint,
    catalog.ComplaintReopened.event_type: on_complaint,
    catalog.ComplaintClosed.event_type: on_complaint,
    catalog.CustomerErased.event_type: on_customer_erased,
}
