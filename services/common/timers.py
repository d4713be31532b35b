"""Durable timers: a due-time table and a loop that sleeps until the next one is due.

Firing happens in a transaction that deletes the timer, so a timer fires once per commit; on
PostgreSQL several instances share the table with `FOR UPDATE SKIP LOCKED`. A timer that was due
while no instance ran fires at the next start, and its handler sees both moments.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
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


TimerHandler = Callable[[TimerDelivery[Any]], Awaitable[None]]


async def schedule_timer(session: AsyncSession, *, kind: str, key: str, due_at: datetime, payload: dict) -> None:
    """Sets (or moves) the timer named (kind, key) inside the caller's transaction."""
    await cancel_timer(session, kind=kind, key=key)
    await session.execute(sa.insert(timers).values(
        kind=kind, key=key, due_at=as_utc(due_at), payload=payload, attempts=0, created_at=utcnow()
    ))
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
        now = now or self.clock.now()
        async with self.database.transaction() as session:
            query = (
                sa.select(timers).where(timers.c.due_at <= now, timers.c.kind.in_(list(self.handlers)))
                .order_by(timers.c.due_at, timers.c.id).limit(self.batch_size)
            )
            if self.database.is_postgres:
                query = query.with_for_update(skip_locked=True)
            rows = (await session.execute(query)).all()
            for row in rows:
                await self._fire(session, row, now)
        return len(rows)

    async def _fire(self, session: AsyncSession, row, now: datetime) -> None:
        timer = DueTimer(kind=row.kind, key=row.key, due_at=row.due_at, payload=row.payload, fired_at=now, attempts=row.attempts)
        try:
            async with session.begin_nested():
                # Deleted before the handler runs: a handler that sets the same timer again (the next
                # threshold) must keep it, and SQLite may give the new row the fired row's id.
                await session.execute(sa.delete(timers).where(timers.c.id == row.id))
                await self.handlers[row.kind](TimerDelivery(session, timer, self.context))
        except Exception:
            log.exception("timer handler failed", extra={"service": self.metrics.service})
            retry_at = now + timedelta(seconds=self.retry_base_seconds * 2 ** min(row.attempts, 8))
            await session.execute(
                sa.update(timers).where(timers.c.id == row.id).values(attempts=row.attempts + 1, due_at=retry_at)
            )
            return
        self.metrics.timers_fired.labels(self.metrics.service, row.kind).inc()
        self.metrics.timer_delay.labels(self.metrics.service, row.kind).observe(max(0.0, (now - row.due_at).total_seconds()))

    async def next_due_at(self) -> datetime | None:
        async with self.database.sessions() as session:
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
