"""Durable timers: a due-time table and a loop that sleeps until the next one is due.

Firing happens in a transaction that deletes the timer, so a timer fires once per commit; on
PostgreSQL several instances share the table with `FOR UPDATE SKIP LOCKED`. A timer that was due
while no instance ran fires at the next start, and its handler sees both moments.

A pass claims up to `batch_size` due timers with one query and fires them together: one delete,
the handlers (a kind that registers a `BatchTimerHandler` gets them all in one call), one commit.
If any handler of the batch fails, the batch is rolled back to its savepoint and fired again one
timer per savepoint, so only the failing timer waits for its retry and none fires twice.
"""

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.clock import Clock, ManualClock, SystemClock
from services.common.database import Database
from services.common.delivery_tables import timers
from services.common.observability import ServiceMetrics
from services.common.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DueTimer:
    kind: str
    key: str
    due_at: datetime
    payload: dict
    fired_at: datetime
    attempts: int


C = TypeVar("C")


@dataclass(frozen=True)
class TimerDelivery(Generic[C]):
    """A due timer as its handler sees it: the transaction it fires in, the timer, the service."""

    session: AsyncSession
    timer: DueTimer
    context: C


@dataclass(frozen=True)
class TimerBatch(Generic[C]):
    """Due timers of one kind as a batch handler sees them, in the order they were due."""

    session: AsyncSession
    timers: Sequence[DueTimer]
    context: C


@dataclass(frozen=True)
class BatchTimerHandler:
    """For a kind that fires hundreds a second: one call per batch, so that it can read and write in
    bulk (one de-dup query, one insert) instead of a few statements per timer."""

    fire: Callable[[TimerBatch[Any]], Awaitable[None]]


TimerHandler = Callable[[TimerDelivery[Any]], Awaitable[None]] | BatchTimerHandler


async def schedule_timer(session: AsyncSession, *, kind: str, key: str, due_at: datetime, payload: dict) -> None:
    """Sets (or moves) the timer named (kind, key) inside the caller's transaction."""
    await cancel_timer(session, kind=kind, key=key)
    await session.execute(sa.insert(timers).values(
        kind=kind, key=key, due_at=as_utc(due_at), payload=payload, attempts=0, created_at=utcnow()
    ))
    session.info["timers_changed"] = True


async def schedule_new_timers(session: AsyncSession, *, kind: str, due: Sequence[tuple[str, datetime, dict]]) -> None:
    """Sets many timers in one insert, for a caller that has just removed any of the same names
    (a name still set makes the insert fail: timers are unique by kind and key)."""
    if due:
        created_at = utcnow()
        await session.execute(sa.insert(timers), [dict(kind=kind, key=key, due_at=as_utc(due_at), payload=payload, attempts=0,
                                                       created_at=created_at) for key, due_at, payload in due])
        session.info["timers_changed"] = True


async def cancel_timer(session: AsyncSession, *, kind: str, key: str) -> None:
    await session.execute(sa.delete(timers).where(timers.c.kind == kind, timers.c.key == key))
    session.info["timers_changed"] = True


class TimerService:
    def __init__(
        self,
        *,
        database: Database,
        handlers: dict[str, TimerHandler],
        metrics: ServiceMetrics,
        max_sleep_seconds: float = 1.0,
        batch_size: int = 500,
        retry_base_seconds: float = 1.0,
        clock: Clock | None = None,
        context: Any = None,
    ):
        self.database = database
        self.clock = clock or SystemClock()
        self.context = context
        self.handlers = handlers
        self.metrics = metrics
        self.max_sleep_seconds = max_sleep_seconds
        self.batch_size = batch_size
        self.retry_base_seconds = retry_base_seconds
        self._wake = asyncio.Event()
        # Passes of one instance take turns: a caller of fire_due (a test, a command) that finds the
        # loop mid-pass returns once that pass committed, not while its work is still in flight.
        self._one_pass_at_a_time = asyncio.Lock()
        if isinstance(self.clock, ManualClock):
            self.clock.on_move(self.wake)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                fired = await self.fire_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("timer loop failed; retrying", extra={"service": self.metrics.service})
                await asyncio.sleep(self.max_sleep_seconds)
                continue
            if fired < self.batch_size:
                await self._sleep_until_next()

    async def fire_due(self, now: datetime | None = None) -> int:
        async with self._one_pass_at_a_time:
            return await self._fire_due(now or self.clock.now())

    async def _fire_due(self, now: datetime) -> int:
        if not self.database.is_postgres and not await self._any_due(now):
            # SQLite has one writer: a pass with nothing to fire must not queue for its lock (a long
            # write transaction would keep the loop waiting into the busy timeout).
            return 0
        async with self.database.transaction() as session:
            query = (
                sa.select(timers).where(timers.c.due_at <= now, timers.c.kind.in_(list(self.handlers)))
                .order_by(timers.c.due_at, timers.c.id).limit(self.batch_size)
            )
            if self.database.is_postgres:
                query = query.with_for_update(skip_locked=True)
            rows = (await session.execute(query)).all()
            fired = await self._fire_batch(session, rows, now) if rows else []
        for row in fired:  # counted once committed
            self.metrics.timers_fired.labels(self.metrics.service, row.kind).inc()
            self.metrics.timer_delay.labels(self.metrics.service, row.kind).observe(max(0.0, (now - row.due_at).total_seconds()))
        return len(rows)

    async def _fire_batch(self, session: AsyncSession, rows: Sequence, now: datetime) -> list:
        """Fires the rows in one savepoint; returns those fired (all, or all but the failing ones)."""
        try:
            async with _savepoint(session):
                # Deleted before the handlers run: a handler that sets the same timer again (the next
                # threshold) must keep it, and SQLite may give the new row a fired row's id.
                await session.execute(sa.delete(timers).where(timers.c.id.in_([row.id for row in rows])))
                for kind, group in itertools.groupby(rows, key=lambda row: row.kind):
                    await self._run(session, kind, [_due_timer(row, now) for row in group])
            return list(rows)
        except Exception:
            if len(rows) > 1:
                log.warning("a timer batch failed; firing its %d timers one by one", len(rows), extra={"service": self.metrics.service})
                return [row for row in rows if await self._fire_batch(session, [row], now)]
            log.exception("timer handler failed", extra={"service": self.metrics.service})
            [row] = rows
            retry_at = now + timedelta(seconds=self.retry_base_seconds * 2 ** min(row.attempts, 8))
            await session.execute(
                sa.update(timers).where(timers.c.id == row.id).values(attempts=row.attempts + 1, due_at=retry_at)
            )
            return []

    async def _run(self, session: AsyncSession, kind: str, due: list[DueTimer]) -> None:
        handler = self.handlers[kind]
        if isinstance(handler, BatchTimerHandler):
            await handler.fire(TimerBatch(session, due, self.context))
            return
        for timer in due:
            await handler(TimerDelivery(session, timer, self.context))

    async def _any_due(self, now: datetime) -> bool:
        async with self.database.snapshot() as session:
            return await session.scalar(
                sa.select(timers.c.id).where(timers.c.due_at <= now, timers.c.kind.in_(list(self.handlers))).limit(1)
            ) is not None

    async def next_due_at(self) -> datetime | None:
        async with self.database.snapshot() as session:
            return await session.scalar(sa.select(sa.func.min(timers.c.due_at)).where(timers.c.kind.in_(list(self.handlers))))

    async def _sleep_until_next(self) -> None:
        next_due = await self.next_due_at()
        delay = self.max_sleep_seconds
        if next_due is not None:
            delay = min(delay, max(0.0, (next_due - self.clock.now()).total_seconds()))
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=delay)
        except TimeoutError:
            pass
        self._wake.clear()


def _due_timer(row, now: datetime) -> DueTimer:
    return DueTimer(kind=row.kind, key=row.key, due_at=row.due_at, payload=row.payload, fired_at=now, attempts=row.attempts)


@asynccontextmanager
async def _savepoint(session: AsyncSession) -> AsyncIterator[None]:
    """A savepoint that, when it rolls back, also forgets what its work noted in `session.info`
    (caches, flags, counts to report after the commit): those notes must not outlive the writes."""
    noted = dict(session.info)
    try:
        async with session.begin_nested():
            yield
    except Exception:
        session.info.clear()
        session.info.update(noted)
        raise
