"""A new calendar or policy version applied to every open complaint, consumed time kept.

The open complaints are read a chunk at a time in id order (one query each). A chunk's pure work
(parsing the stored states, the core's recompute, the new stored JSON, the events' outbox rows) runs
in this process, a piece at a time, while the database thread writes the chunk before: sent to the
offload worker it was slower on two cores (pickling both ways and the worker's start cost more than
the overlap saved). The per-complaint work is batched where it can be: the core's deadlines and
warning moments in one numpy call per calendar, the stored state written by orjson, the events'
payloads built as their JSON without a model each (a test holds them equal to the models'). Each
chunk is written with one statement per table (the driver's executemany on SQLite, COPY for the
outbox on PostgreSQL). Only complaints whose deadlines really moved get a history row and a
`complaint.updated` event; the others only have their consumed time settled on the old version, so
that it is never counted again on the new one.

Everything happens in the caller's transaction, and the PUT answers when it is done: the new
version and every complaint moved to it commit together, or neither does. So no complaint is ever
changed on the new version while its consumed time still stands on the old one, nothing is left
for a restart to finish (a crash rolls the whole change back and the manager stores it again),
and the answer can say how many complaints moved. A background job would answer sooner but
would need all of that made durable and every transition to know which complaints are not moved
yet; at seconds for 100,000 open complaints that is not worth it. The cost: while it runs, the
open complaints are locked (PostgreSQL) or the database's other writers wait (SQLite; the timer
loop only queues for the lock when a timer is due, see common/timers.py).
"""

import asyncio
from dataclasses import dataclass
from datetime import datetime

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import catalog
from services.common.bulk import execute_many
from services.common.collector import collector_paused
from services.common.errors import Problem
from services.common.event_writer import EventWriter
from services.feedback.complaint_handling import EVENT_OF_ACTION, Change, sla_flags
from services.feedback.complaints import lifecycle
from services.feedback.complaints import sla_state as core
from services.feedback.context import FeedbackContext
from services.feedback.models import complaint_history, complaints
from services.feedback.sla.calendars import CalendarError, from_epoch_us, to_epoch_us

CHUNK = 5000
PIECE = 1250


@dataclass(frozen=True)
class VersionChange:
    """What a worker needs to recompute chunks: picklable, sent along with each chunk."""

    old: core.SlaContext
    new: core.SlaContext
    calendar: str | None  # the calendar that changed; None for a new policy set
    at: datetime
    action: str
    events: EventWriter


@dataclass(frozen=True)
class Recomputed:
    complaint_id: str
    sla: str  # the stored state as JSON text
    breached: bool
    next_due_at: datetime | None
    outbox_row: dict | None  # None when no deadline moved: the state is stored, nothing published


def recompute_chunk(change: VersionChange, rows: list[tuple[str, str, str]]) -> list[Recomputed] | str:
    """(id, customer_id, stored JSON) of open complaints → their recomputed states and events;
    or the reason the core refused (an unverified calendar year) as text, since this may run in
    another process."""
    with collector_paused():
        try:
            return _recomputed(change, rows)
        except CalendarError as error:
            return str(error)


def _recomputed(change: VersionChange, rows: list[tuple[str, str, str]]) -> list[Recomputed]:
    before = [core.ComplaintSla.from_dict(orjson.loads(text)) for _, _, text in rows]
    after = core.recompute_versions(before, change.old, change.new, change.at, calendar=change.calendar)
    changed = [n for n, (old_sla, sla) in enumerate(zip(before, after)) if sla is not old_sla]
    moved, warnings = core.deadlines_moved_many([before[n] for n in changed], [after[n] for n in changed], change.old, change.new, change.at)
    found, payloads = [], []
    for n, was_moved, warned in zip(changed, moved, warnings):
        complaint_id, customer_id, _ = rows[n]
        sla = after[n]
        found.append([complaint_id, sla.to_json().decode(), *sla_flags(sla), None])
        if was_moved:
            payloads.append((len(found) - 1, event_data(complaint_id, customer_id, sla, warned, change.at)))
    event_type = EVENT_OF_ACTION.get(change.action, catalog.ComplaintUpdated)
    for (n, _), row in zip(payloads, change.events.outbox_rows_of_data((event_type, data) for _, data in payloads)):
        found[n][-1] = row
    return [Recomputed(*values) for values in found]


def event_data(complaint_id: str, customer_id: str, sla: core.ComplaintSla, warnings: list[list[int]], at: datetime) -> dict:
    """A complaint event's payload built directly, without its model (a model per moved complaint was
    a good part of a recompute): written by the outbox's orjson (times in UTC as Z), it is the JSON
    that `complaint_event(...).model_dump(mode="json", exclude_none=True)` gives, byte for byte
    (tests hold them equal). `warnings` are core.warnings_many()'s."""
    data = {"customer_id": customer_id, "complaint_id": complaint_id, "status": sla.status, "priority": sla.attributes.priority}
    if sla.policy_id is not None:
        data["policy_id"] = sla.policy_id
    if sla.policy_version is not None:
        data["policy_version"] = sla.policy_version
    data["reopen_count"] = sla.reopen_count
    last_event_us = to_epoch_us(sla.last_event_at)
    data["sla"] = [_metric_data(clock, [m for m in moments if m > last_event_us]) for clock, moments in zip(sla.clocks, warnings)]
    data["changed_at"] = at
    return data


def _metric_data(clock, warnings_us: list[int]) -> dict:
    data = {"metric": clock.metric, "instance": clock.instance, "state": clock.state, "breached": clock.breached}
    if clock.due_at is not None:
        data["due_at"] = clock.due_at
    if clock.original_due_at is not None:
        data["original_due_at"] = clock.original_due_at
    data["consumed_seconds"] = float(clock.consumed_seconds)
    data["target_seconds"] = float(clock.target_seconds)
    data["warnings_at"] = [from_epoch_us(moment, clock.marked_at.tzinfo) for moment in warnings_us]
    return data


async def recompute_open(session: AsyncSession, ctx: FeedbackContext, old: core.SlaContext, new: core.SlaContext,
                         *, calendar: str | None, change: Change) -> int:
    """Moves every open complaint to the new versions; says how many had their deadlines moved."""
    version_change = VersionChange(old, new, calendar, ctx.now(), change.action, ctx.events)
    moved, after, pending = 0, "", None
    try:
        while True:
            rows = await _open_chunk(session, after)
            previous, pending = pending, (asyncio.ensure_future(_compute(ctx, version_change, rows)) if rows else None)
            if previous is not None:
                # This chunk is recomputed, a piece at a time, while the database writes the one before.
                moved += await _store(session, ctx, await previous, change)
            if pending is None:
                return moved
            after = rows[-1][0]
    finally:
        if pending is not None and not pending.done():
            pending.cancel()


async def _open_chunk(session: AsyncSession, after: str) -> list[tuple[str, str, str]]:
    # `status || ''` keeps SQLite off the status index: through it, each chunk collected every open
    # complaint and sorted them by id (2.7 s of CPU for 100,000); along the primary key all chunks
    # together walk the table once.
    query = (sa.select(complaints.c.id, complaints.c.customer_id, sa.cast(complaints.c.sla, sa.Text))
             .where(complaints.c.status.concat("").in_(lifecycle.UNRESOLVED), complaints.c.id > after)
             .order_by(complaints.c.id).limit(CHUNK).with_for_update())
    return [tuple(row) for row in (await session.execute(query)).all()]


async def _compute(ctx: FeedbackContext, change: VersionChange, rows) -> list[Recomputed]:
    """A chunk recomputed a piece at a time, the event loop free in between: there the chunk
    before goes on to its next statement, so the database thread writes while this one computes."""
    result = []
    for start in range(0, len(rows), PIECE):
        piece = recompute_chunk(change, rows[start:start + PIECE])
        if isinstance(piece, str):
            raise Problem(422, "Deadline cannot be computed", piece, field="sla")
        result.extend(piece)
        await asyncio.sleep(0)
    return result


async def _store(session: AsyncSession, ctx: FeedbackContext, recomputed: list[Recomputed], change: Change) -> int:
    if not recomputed:
        return 0
    now = ctx.now()
    await execute_many(
        session,
        sa.update(complaints).where(complaints.c.id == sa.bindparam("row_id")).values(
            version=complaints.c.version + 1, updated_at=now, sla=_json_text(session, "new_sla"),
            breached=sa.bindparam("new_breached"), next_due_at=sa.bindparam("new_next_due_at"),
        ),
        [{"row_id": r.complaint_id, "new_sla": r.sla, "new_breached": r.breached, "new_next_due_at": r.next_due_at} for r in recomputed],
    )
    moved = [r for r in recomputed if r.outbox_row is not None]
    if moved:
        await _add_history(session, [r.complaint_id for r in moved], change, now)
        await ctx.events.add_rows(session, [r.outbox_row for r in moved])
    return len(moved)


def _json_text(session: AsyncSession, name: str):
    """A bound JSON column value that is already JSON text (encoded in the worker, not again here)."""
    parameter = sa.bindparam(name, type_=sa.Text())
    if session.bind.dialect.name == "postgresql":
        return sa.cast(parameter, sa.JSON())
    return parameter  # SQLite keeps JSON as text; a CAST to JSON there would mean NUMERIC


async def _add_history(session: AsyncSession, complaint_ids: list[str], change: Change, now: datetime) -> None:
    """One history row per moved complaint, written from the complaint rows in one statement
    (a recompute leaves the status as it was)."""
    columns = ["complaint_id", "at", "actor", "action", "from_status", "to_status", "changes", "reason_text"]
    select = sa.select(
        complaints.c.id, sa.literal(now, complaint_history.c.at.type), sa.literal(change.actor), sa.literal(change.action),
        complaints.c.status, complaints.c.status, sa.literal(change.changes or {}, complaint_history.c.changes.type),
        sa.literal(change.reason, sa.Text()),
    ).where(complaints.c.id.in_(complaint_ids))
    await session.execute(sa.insert(complaint_history).from_select(columns, select))
