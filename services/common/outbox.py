"""Transactional outbox: events are written with the change they describe, and relayed later.

A row is marked sent only after the bus acknowledged it (Kafka: the broker; in process: every
consumer group of the deployment committed it, see `bus.py`), so a crash or a broker outage leaves
unsent rows that the next relay pass sends again (at least once; consumers de-duplicate on id).

Order. Ids are given at insert, not at commit: on PostgreSQL row 10 may still be uncommitted when
row 11 is, and publishing 11 then would put a customer's later event before their earlier one. So
every row carries the id of the transaction that wrote it (`txid`, filled by the server), and a pass
publishes the unsent rows in id order, stopping at the first one whose transaction is not older
than every transaction still in flight (`pg_snapshot_xmin` of the same snapshot). A row thus waits
until every transaction that began writing before its own has ended, and rows leave in the order
they were written: a later event of a customer never overtakes an earlier one, whichever
transaction commits first. A long write transaction on the server delays publishing; it never
loses or reorders. SQLite has one writer at a time (BEGIN IMMEDIATE): id order is commit order.
"""

import asyncio
import functools
import logging
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.bulk import any_of, insert_rows
from services.common.bus import Bus
from services.common.database import Database
from services.common.delivery_tables import outbox
from services.common.events import Envelope, Message, envelope_headers, event_value
from services.common.observability import ServiceMetrics
from services.common.timeutil import utcnow

log = logging.getLogger(__name__)

# Any fixed number: the relays of one service database agree on it to elect one leader.
RELAY_LOCK_KEY = 0x70756C7365


def outbox_rows(events: Iterable[tuple[Envelope, str]]) -> list[dict]:
    now = utcnow()
    rows = []
    for envelope, topic in events:
        rows.append({
            "event_id": envelope.id,
            "event_type": envelope.type,
            "topic": topic,
            "key": envelope.subject,
            "headers": dict(envelope_headers(envelope)),
            "value": event_value(envelope).decode(),
            "created_at": now,
        })
    return rows


async def add_events(session: AsyncSession, events: Iterable[tuple[Envelope, str]]) -> None:
    """Adds events to the outbox inside the caller's transaction."""
    rows = outbox_rows(events)
    if rows:
        await insert_rows(session, outbox, rows)
        session.info["outbox_written"] = True


async def insert_with_event(session: AsyncSession, table: sa.Table, row: dict, *, unique: str, event: tuple[Envelope, str]) -> bool:
    """PostgreSQL: inserts `row` and its event's outbox row in one statement, or neither if a row with
    the same `unique` value exists; returns whether they were written. One round trip where a look-up
    and two inserts took three: a single write's time goes mostly to round trips."""
    event_row = outbox_rows([event])[0]
    statement = _insert_with_event_statement(table, tuple(row), unique, tuple(event_row))
    parameters = {f"row_{name}": value for name, value in row.items()} | {f"event_{name}": value for name, value in event_row.items()}
    written = (await session.execute(statement, parameters)).first() is not None
    if written:
        session.info["outbox_written"] = True
    return written


@functools.cache
def _insert_with_event_statement(table: sa.Table, columns: tuple[str, ...], unique: str, event_columns: tuple[str, ...]) -> sa.Insert:
    """Built once per shape: building a statement cost more CPU than running it."""
    values = {name: sa.bindparam(f"row_{name}", type_=table.c[name].type) for name in columns}
    inserted = (postgresql.insert(table).values(values).on_conflict_do_nothing(index_elements=[unique])
                .returning(table.c[unique]).cte("inserted"))
    event = sa.select(*(sa.bindparam(f"event_{name}", type_=outbox.c[name].type).label(name) for name in event_columns))
    return (sa.insert(outbox).from_select(list(event_columns), event.select_from(inserted))
            .add_cte(inserted, nest_here=True).returning(outbox.c.id))


def _message_of(row) -> Message:
    headers = tuple((name, value.encode()) for name, value in row.headers.items())
    return Message(topic=row.topic, key=row.key.encode(), value=row.value.encode(), headers=headers)


class OutboxRelay:
    def __init__(
        self,
        *,
        database: Database,
        bus: Bus,
        metrics: ServiceMetrics,
        batch_size: int = 5000,
        poll_seconds: float = 0.5,
        max_backoff_seconds: float = 5.0,
        linger_seconds: float = 0.05,
        retention_seconds: float = 24 * 3600,
        lead: bool = True,
    ):
        self.database = database
        self.bus = bus
        self.metrics = metrics
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.linger_seconds = linger_seconds
        self.retention_seconds = retention_seconds
        # False where a relay process of its own publishes: this one only shows the backlog.
        self.lead = lead
        self._wake = asyncio.Event()
        self._one_pass_at_a_time = asyncio.Lock()
        self._lock_connection: AsyncConnection | None = None
        self._last_purge = 0.0
        self._last_backlog_check = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        backoff = self.poll_seconds
        while True:
            try:
                if self.lead and await self._is_leader():
                    sent = await self.relay_once()
                else:
                    sent = 0
                    await self._record_backlog()  # a standby still shows the shared backlog
                backoff = self.poll_seconds
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("outbox relay could not publish: %s", type(error).__name__, extra={"service": self.metrics.service})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_seconds)
                continue
            if sent < self.batch_size:
                await self._sleep()

    async def close(self) -> None:
        if self._lock_connection is not None:
            await self._lock_connection.close()
            self._lock_connection = None

    async def relay_once(self) -> int:
        """Publishes the oldest unsent rows; returns how many were sent."""
        async with self._one_pass_at_a_time:
            return await self._relay_batch()

    async def _relay_batch(self) -> int:
        rows = await self._publishable_rows()
        if not rows:
            self._show_backlog(0, 0.0)
            return 0
        # Published outside any transaction: a slow or absent broker must never block writers.
        await self.bus.publish([_message_of(row) for row in rows])
        async with self.database.transaction() as session:
            await self._skip_commit_flush(session)
            for sent in any_of(session, outbox.c.id, [row.id for row in rows]):
                await session.execute(sa.update(outbox).where(sent).values(sent_at=utcnow()))
        for topic, count in Counter(row.topic for row in rows).items():
            self.metrics.events_published.labels(self.metrics.service, topic).inc(count)
        await self._record_backlog()
        await self._purge_sent()
        return len(rows)

    async def _publishable_rows(self) -> list:
        """The oldest unsent rows, in id order, that no transaction still in flight can precede."""
        query = (
            sa.select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.headers, outbox.c.value, outbox.c.txid)
            .where(outbox.c.sent_at.is_(None)).order_by(outbox.c.id).limit(self.batch_size)
        )
        if self.database.is_postgres:
            # In the same statement, so the horizon and the rows come from one snapshot.
            query = query.add_columns(sa.text("pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon"))
        async with self.database.sessions() as session:
            rows = (await session.execute(query)).all()
        if not self.database.is_postgres:
            return rows
        publishable = []
        for row in rows:
            if row.txid is not None and row.txid >= row.horizon:
                break  # its transaction, or one that began before it, may still add rows before it
            publishable.append(row)
        return publishable

    async def backlog(self) -> int:
        async with self.database.sessions() as session:
            return await session.scalar(sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None)))

    async def _record_backlog(self) -> None:
        """Counting is not free, so under load it happens at most once a second."""
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._last_backlog_check < 1.0:
            return
        self._last_backlog_check = loop_time
        async with self.database.sessions() as session:
            count, oldest = (await session.execute(
                sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)).where(outbox.c.sent_at.is_(None))
            )).one()
        self._show_backlog(count, (utcnow() - oldest).total_seconds() if oldest is not None else 0.0)

    def _show_backlog(self, count: int, oldest_age_seconds: float) -> None:
        self.metrics.outbox_backlog.labels(self.metrics.service).set(count)
        self.metrics.outbox_oldest_age.labels(self.metrics.service).set(oldest_age_seconds)

    async def _purge_sent(self) -> None:
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._last_purge < 60:
            return
        self._last_purge = loop_time
        cutoff = utcnow() - timedelta(seconds=self.retention_seconds)
        async with self.database.transaction() as session:
            await self._skip_commit_flush(session)
            await session.execute(sa.delete(outbox).where(outbox.c.sent_at.is_not(None), outbox.c.sent_at < cutoff))

    async def _skip_commit_flush(self, session: AsyncSession) -> None:
        """The relay's bookkeeping need not wait for the disk: if a crash loses a "sent" mark, the
        row is sent again and consumers drop the duplicate by its id. Writers' commits stay durable."""
        if self.database.is_postgres:
            await session.execute(sa.text("SET LOCAL synchronous_commit = off"))

    async def _sleep(self) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            # Writes that commit while it lingers travel in the same pass.
            await asyncio.sleep(self.linger_seconds)
        except TimeoutError:
            pass
        self._wake.clear()

    async def _is_leader(self) -> bool:
        """On PostgreSQL several instances may run; one holds the advisory lock and relays, in order."""
        if not self.database.is_postgres:
            return True
        try:
            if self._lock_connection is None:
                connection = await self.database.session_lock_connection()
                if not await connection.scalar(sa.select(sa.func.pg_try_advisory_lock(RELAY_LOCK_KEY))):
                    await connection.close()
                    return False
                self._lock_connection = connection
            else:
                await self._lock_connection.scalar(sa.select(1))
            return True
        except Exception:
            await self.close()
            raise
