"""Complaints in the database: open, change, list; every change stored with its history and its
event in one transaction. The SLA arithmetic is the pure core's (complaints/sla_state.py)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import catalog
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.pagination import keyset_page
from services.common.timers import cancel_timer, schedule_timer
from services.feedback.complaints import lifecycle
from services.feedback.complaints import sla_state as core
from services.feedback.context import FeedbackContext
from services.feedback.models import complaint_history, complaints, customer_tiers
from services.feedback.records import one_or_404
from services.feedback.sla import clocks as sla_clocks
from services.feedback.sla.calendars import CalendarError
from services.feedback.sla.policies import ComplaintAttributes
from services.feedback.sla_config import sla_context

CSAT_TIMER = "complaint.csat_invitation"
AUTO_CLOSE_TIMER = "complaint.auto_close"

EVENT_OF_ACTION = {
    "open": catalog.ComplaintOpened,
    "resolve": catalog.ComplaintResolved,
    "reopen": catalog.ComplaintReopened,
    "close": catalog.ComplaintClosed,
}


@dataclass(frozen=True)
class Change:
    """One thing done to a complaint, as its history records it."""

    actor: str
    action: str
    reason: str | None = None
    changes: dict | None = None


async def open_complaint(session: AsyncSession, ctx: FeedbackContext, *, customer_id: str, priority: str | None,
                         category: str | None, channel: str | None, description: str | None, assignee: str | None,
                         actor: str, linked_to: str | None = None):
    now = ctx.now()
    if linked_to is not None:
        await one_or_404(session, complaints, linked_to, what="complaint", field="linked_to")
    sla_ctx = await sla_context(session, ctx)
    tier = await session.scalar(sa.select(customer_tiers.c.tier).where(customer_tiers.c.customer_id == customer_id))
    complaint_id = new_id()
    opened = core.ComplaintOpened(new_id(), now, complaint_id, ComplaintAttributes(priority, tier, channel, category))
    sla = _computed(lambda: core.open_complaint(opened, sla_ctx))
    row = dict(
        id=complaint_id, customer_id=customer_id, status=sla.status, priority=sla.attributes.priority, category=category,
        channel=channel, assignee=assignee, description_text=description, linked_to=linked_to, without_survey=False,
        version=1, created_at=now, updated_at=now, **sla_columns(sla),
    )
    await session.execute(sa.insert(complaints).values(**row))
    await _record(session, ctx, row, sla, sla_ctx, Change(actor, "open", changes={"linked_to": linked_to} if linked_to else None), None)
    return await get_complaint(session, complaint_id)


async def get_complaint(session: AsyncSession, complaint_id: str, *, for_update: bool = False):
    return await one_or_404(session, complaints, complaint_id, what="complaint", field="complaint_id", for_update=for_update)


def check_version(row, if_match: str | None) -> None:
    if if_match is not None and if_match.strip() not in (etag(row), "*"):
        raise Problem(412, "Precondition failed",
                      f"the complaint changed since that ETag: it is now {etag(row)}; read it again and retry", field="If-Match")


def etag(row) -> str:
    return f'"{row.version}"'


async def transition(session: AsyncSession, ctx: FeedbackContext, row, action: str, change: Change, *, without_survey: bool = False):
    """A lifecycle action (acknowledge, start, wait_on_…, resume, resolve, reopen, close)."""
    now = ctx.now()
    sla_ctx = await sla_context(session, ctx)
    sla = core.ComplaintSla.from_dict(row.sla)
    try:
        lifecycle.next_state(sla.status, action)
    except lifecycle.IllegalTransition as error:
        allowed = api_actions(sla.status)
        raise Problem(409, "Illegal transition", f"cannot {_api_name(action)} a complaint that is {sla.status}; allowed: {', '.join(allowed) or 'none (closed is final)'}",
                      field="status", complaint_status=sla.status, allowed_transitions=allowed) from error
    sla = _computed(lambda: core.apply_event(sla, core.StatusChanged(new_id(), now, action), sla_ctx))
    values = {"without_survey": without_survey} if action == "resolve" else {}
    row = await _save(session, ctx, row, sla, sla_ctx, change, **values)
    await _follow_up_timers(session, ctx, row, action, now)
    return row


async def reply(session: AsyncSession, ctx: FeedbackContext, row, *, from_customer: bool, public: bool, automated: bool, change: Change):
    now = ctx.now()
    sla_ctx = await sla_context(session, ctx)
    sla = core.ComplaintSla.from_dict(row.sla)
    if sla.status == lifecycle.CLOSED:
        raise Problem(409, "Illegal transition", "the complaint is closed; a new message opens a new, linked complaint",
                      field="status", complaint_status=sla.status, allowed_transitions=[])
    event = core.CustomerMessaged(new_id(), now) if from_customer else core.AgentReplied(new_id(), now, public, automated)
    sla = _computed(lambda: core.apply_event(sla, event, sla_ctx))
    return await _save(session, ctx, row, sla, sla_ctx, change)


async def change_attributes(session: AsyncSession, ctx: FeedbackContext, row, updates: dict, change: Change):
    """Priority, category or assignee; a new priority or category re-matches the policy."""
    now = ctx.now()
    sla_ctx = await sla_context(session, ctx)
    sla = core.ComplaintSla.from_dict(row.sla)
    attributes = ComplaintAttributes(updates.get("priority", row.priority), sla.attributes.tier, row.channel, updates.get("category", row.category))
    if attributes != sla.attributes:
        sla = _computed(lambda: core.apply_event(sla, core.AttributesChanged(new_id(), now, attributes), sla_ctx))
    columns = {key: value for key, value in updates.items() if key in ("category", "assignee")}
    return await _save(session, ctx, row, sla, sla_ctx, change, **columns)


async def rematch_customer(session: AsyncSession, ctx: FeedbackContext, customer_id: str, tier: str, actor: str) -> None:
    """A new tier re-matches the customer's open complaints (policies may match on tier)."""
    now = ctx.now()
    sla_ctx = await sla_context(session, ctx)
    rows = (await session.execute(sa.select(complaints).where(
        complaints.c.customer_id == customer_id, complaints.c.status.in_(lifecycle.UNRESOLVED)).with_for_update())).all()
    for row in rows:
        sla = core.ComplaintSla.from_dict(row.sla)
        attributes = ComplaintAttributes(sla.attributes.priority, tier, sla.attributes.channel, sla.attributes.category)
        sla = _computed(lambda: core.apply_event(sla, core.AttributesChanged(new_id(), now, attributes), sla_ctx))
        await _save(session, ctx, row, sla, sla_ctx, Change(actor, "tier_changed", changes={"tier": tier}))


async def _follow_up_timers(session: AsyncSession, ctx: FeedbackContext, row, action: str, now: datetime) -> None:
    """Resolve: the CSAT invitation after its delay, and the auto-close; reopen or close: neither."""
    if action == "resolve":
        if not row.without_survey:
            await schedule_timer(session, kind=CSAT_TIMER, key=row.id, due_at=now + timedelta(hours=ctx.settings.csat_after_resolve_hours),
                                 payload={"complaint_id": row.id})
        await schedule_timer(session, kind=AUTO_CLOSE_TIMER, key=row.id, due_at=lifecycle.auto_close_at(now, after_days=ctx.settings.complaint_auto_close_days),
                             payload={"complaint_id": row.id})
    elif action in ("reopen", "close"):
        await cancel_timer(session, kind=AUTO_CLOSE_TIMER, key=row.id)
        if action == "reopen":
            await cancel_timer(session, kind=CSAT_TIMER, key=row.id)


async def _save(session: AsyncSession, ctx: FeedbackContext, row, sla: core.ComplaintSla, sla_ctx: core.SlaContext, change: Change, **columns):
    values = dict(status=sla.status, priority=sla.attributes.priority, version=row.version + 1, updated_at=ctx.now(), **sla_columns(sla), **columns)
    await session.execute(sa.update(complaints).where(complaints.c.id == row.id).values(**values))
    await _record(session, ctx, {**row._mapping, **values}, sla, sla_ctx, change, row.status)
    return await get_complaint(session, row.id)


async def _record(session, ctx: FeedbackContext, row: dict, sla, sla_ctx, change: Change, from_status: str | None) -> None:
    """The history entry and the event of one change, in the caller's transaction."""
    await session.execute(sa.insert(complaint_history).values(
        complaint_id=row["id"], at=ctx.now(), actor=change.actor, action=change.action, from_status=from_status,
        to_status=sla.status, changes=change.changes or {}, reason_text=change.reason,
    ))
    await ctx.events.add(session, complaint_event(row, sla, sla_ctx, change.action, ctx.now()))


def complaint_event(row: dict, sla: core.ComplaintSla, sla_ctx: core.SlaContext, action: str, now: datetime) -> catalog.ComplaintEvent:
    model = EVENT_OF_ACTION.get(action, catalog.ComplaintUpdated)
    return model(
        customer_id=row["customer_id"], complaint_id=row["id"], status=sla.status, priority=sla.attributes.priority,
        policy_id=sla.policy_id, policy_version=sla.policy_version, reopen_count=sla.reopen_count,
        sla=core.event_payload(sla, sla_ctx), changed_at=now,
    )


def sla_columns(sla: core.ComplaintSla) -> dict:
    breached, next_due_at = sla_flags(sla)
    return {"sla": sla.to_dict(), "breached": breached, "next_due_at": next_due_at}


def sla_flags(sla: core.ComplaintSla) -> tuple[bool, datetime | None]:
    """The complaint's `breached` and `next_due_at` columns."""
    dues = [c.due_at for c in sla.clocks if c.state == "running" and not c.breached and c.due_at is not None]
    return any(c.breached for c in sla.clocks), min(dues, default=None)


def _computed(compute):
    """The core refuses what it cannot compute (an unverified year): the client hears why."""
    try:
        return compute()
    except CalendarError as error:
        raise Problem(422, "Deadline cannot be computed", str(error), field="sla") from error


# --- reading -----------------------------------------------------------------------------------

API_ACTIONS = {"wait_on_customer": "wait", "wait_on_third_party": "wait"}


def _api_name(action: str) -> str:
    return API_ACTIONS.get(action, action)


def api_actions(status: str) -> list[str]:
    """The transitions the API offers from a status (`reply` is always possible before close)."""
    allowed = list(dict.fromkeys(_api_name(a) for a in lifecycle.allowed_actions(status)))
    return allowed + (["reply"] if status != lifecycle.CLOSED else [])


async def history(session: AsyncSession, complaint_id: str) -> list:
    return list((await session.execute(
        sa.select(complaint_history).where(complaint_history.c.complaint_id == complaint_id).order_by(complaint_history.c.id)
    )).all())


@dataclass(frozen=True)
class ComplaintFilter:
    status: str | None = None
    priority: str | None = None
    breached: bool | None = None
    assignee: str | None = None
    customer_id: str | None = None


async def list_complaints(session: AsyncSession, filters: ComplaintFilter, now: datetime, *, cursor: str | None, limit: int):
    query = sa.select(complaints)
    for column in ("status", "priority", "assignee", "customer_id"):
        if getattr(filters, column) is not None:
            query = query.where(complaints.c[column] == getattr(filters, column))
    # Breached is derived: flagged at the last change, or a running deadline passed since.
    past_due = sa.and_(complaints.c.next_due_at.is_not(None), complaints.c.next_due_at < now)
    if filters.breached is True:
        query = query.where(sa.or_(complaints.c.breached, past_due))
    elif filters.breached is False:
        query = query.where(sa.not_(complaints.c.breached), sa.not_(past_due))
    return await keyset_page(session, query, time_column=complaints.c.created_at, id_column=complaints.c.id, cursor=cursor, limit=limit, rows=True)


def sla_now(row, sla_ctx: core.SlaContext, now: datetime) -> list[dict]:
    """Each metric as of now: a deadline passed since the last change shows as breached."""
    sla = core.observe(core.ComplaintSla.from_dict(row.sla), now)
    snapshots = core.event_payload(sla, sla_ctx)
    for clock, snapshot in zip(sla.clocks, snapshots):
        if clock.state == "running" and clock.calendar in sla_ctx.calendars:
            snapshot["consumed_seconds"] = sla_clocks.consumed_at(clock, sla_ctx.calendar(clock), now)
        snapshot["breach_cause"] = clock.breach_cause
        snapshot["breached_at"] = clock.breached_at
        snapshot["fulfilled_at"] = clock.fulfilled_at
        snapshot["paused_seconds"] = clock.paused_seconds
    return snapshots
