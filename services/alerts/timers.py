"""The alerts' durable timers: complaint SLA thresholds and follow-ups due. Arming and disarming
happen in the transaction of the event that moved them; firing raises the alert, stamped with the
moment it was due and the moment it was found (later than due after a restart)."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts import alerting
from services.alerts.context import AlertsContext
from services.alerts.customer_view import state_of, view_of
from services.alerts.rules import decisions
from services.alerts.rules.sla import TIMER_KIND as SLA_TIMER, SlaPlan, sla_candidate
from services.common.delivery_tables import timers
from services.common.timers import (
    BatchTimerHandler, DueTimer, TimerBatch, TimerDelivery, cancel_timer, schedule_new_timers, schedule_timer,
)

FOLLOW_UP_TIMER = "alerts.follow_up"


async def apply_sla_plan(session: AsyncSession, plan: SlaPlan) -> None:
    """Two statements per complaint event: every key the plan arms lies under a prefix it disarms."""
    if plan.disarm_prefixes:
        await session.execute(sa.delete(timers).where(timers.c.kind == SLA_TIMER, sa.or_(
            *(timers.c.key.startswith(prefix, autoescape=True) for prefix in plan.disarm_prefixes))))
        session.info["timers_changed"] = True
    await schedule_new_timers(session, kind=SLA_TIMER, due=[(timer.key, timer.due_at, timer.payload) for timer in plan.arm])


async def arm_follow_up(session: AsyncSession, ctx: AlertsContext, *, customer_id: str, tier: str, last_contact) -> None:
    """Moved by every interaction (and tier change): one timer per customer, never a scan."""
    _, rules = await alerting.current_rules(session)
    due_at = decisions.follow_up_due_at(rules, tier, last_contact) if last_contact is not None else None
    if due_at is None:
        await cancel_timer(session, kind=FOLLOW_UP_TIMER, key=customer_id)
        return
    await schedule_timer(session, kind=FOLLOW_UP_TIMER, key=customer_id, due_at=due_at,
                         payload={"last_contact_at": last_contact.isoformat()})


async def on_sla_due(batch: TimerBatch[AlertsContext]) -> None:
    """Thresholds crossed, many at once (5,000 complaints may breach in one second): raised in bulk."""
    session, ctx = batch.session, batch.context
    version, rules = await alerting.current_rules(session)
    candidates = [sla_candidate(rules, key=timer.key, payload=timer.payload, due_at=timer.due_at) for timer in batch.timers]
    for timer in batch.timers:
        _observe(ctx, timer)
    fired_at = batch.timers[0].fired_at  # one pass, one moment
    await alerting.raise_alerts(session, ctx, [candidate for candidate in candidates if candidate is not None], rule_version=version,
                                quiet_hours=rules.complaint_sla.quiet_period_hours, detected_at=fired_at)


async def on_follow_up_due(delivery: TimerDelivery[AlertsContext]) -> None:
    session, ctx, timer = delivery.session, delivery.context, delivery.timer
    version, rules = await alerting.current_rules(session)
    view = await view_of(session, timer.key, at=timer.fired_at)
    _observe(ctx, timer)
    if decisions.follow_up_due_at(rules, view.tier, timer.due_at) is None:
        return  # the tier or the rule changed since the timer was set
    last_contact = datetime.fromisoformat(timer.payload["last_contact_at"])
    candidate = decisions.follow_up(rules, state_of(view), last_contact=last_contact, due_at=timer.due_at)
    await alerting.raise_alert(session, ctx, candidate, rule_version=version,
                               quiet_hours=rules.follow_up_due.quiet_period_hours, detected_at=timer.fired_at)


def _observe(ctx: AlertsContext, timer: DueTimer) -> None:
    ctx.alert_metrics.timer_lateness.labels(timer.kind).observe(max(0.0, (timer.fired_at - timer.due_at).total_seconds()))


TIMER_HANDLERS = {SLA_TIMER: BatchTimerHandler(on_sla_due), FOLLOW_UP_TIMER: on_follow_up_due}


async def measure_timers(ctx: AlertsContext) -> None:
    """The pending-timer gauge, by kind (a job: a count is cheap, but not on every firing)."""
    async with ctx.database.sessions() as session:
        rows = await session.execute(
            sa.select(timers.c.kind, sa.func.count()).where(timers.c.kind.in_(list(TIMER_HANDLERS))).group_by(timers.c.kind)
        )
        counts = dict.fromkeys(TIMER_HANDLERS, 0) | {kind: count for kind, count in rows.all()}
    for kind, count in counts.items():
        ctx.alert_metrics.timers_pending.labels(kind).set(count)
