"""Durable timers: fire once, move, cancel, survive a restart, retry a failing handler."""

import asyncio
import contextlib
import os
from datetime import timedelta

import pytest
import sqlalchemy as sa
from prometheus_client import generate_latest

from services.common.database import COMMON_MIGRATIONS, Database
from services.common.delivery_tables import timers
from services.common.observability import ServiceMetrics
from services.common.timers import BatchTimerHandler, TimerService, cancel_timer, schedule_timer
from services.common.timeutil import utcnow


async def migrated(tmp_path, url: str = "") -> Database:
    database = Database(url or f"sqlite+aiosqlite:///{tmp_path / 'timers'}.db", migrations=[COMMON_MIGRATIONS / "versions"])
    await database.migrate()
    return database


async def committed_effects(database: Database) -> list[str]:
    """What the handlers below wrote and committed: one row per firing."""
    async with database.sessions() as session:
        payloads = (await session.scalars(sa.select(timers.c.payload).where(timers.c.kind == "effect"))).all()
    return sorted(payload["of"] for payload in payloads)


async def write_effect(session, key: str) -> None:
    # A row per call, never replaced: a firing committed twice would show twice.
    await session.execute(sa.insert(timers).values(kind="effect", key=f"{key}/{os.urandom(4).hex()}", due_at=utcnow() + timedelta(days=9),
                                                   payload={"of": key}, attempts=0, created_at=utcnow()))


class Fired:
    def __init__(self, fail_times: int = 0):
        self.timers = []
        self.fail_times = fail_times

    async def __call__(self, delivery):
        timer = delivery.timer
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("handler failed")
        self.timers.append(timer)


async def test_a_timer_fires_once_at_its_due_time_with_both_moments(tmp_path):
    database = await migrated(tmp_path)
    fired = Fired()
    service = TimerService(database=database, handlers={"sla": fired}, metrics=ServiceMetrics("t"))
    due = utcnow() + timedelta(minutes=5)
    async with database.transaction() as session:
        await schedule_timer(session, kind="sla", key="complaint-1/resolution", due_at=due, payload={"n": 1})
    assert await service.fire_due(now=due - timedelta(seconds=1)) == 0
    late = due + timedelta(hours=2)  # e.g. the service was down when it was due
    assert await service.fire_due(now=late) == 1
    assert await service.fire_due(now=late) == 0
    [timer] = fired.timers
    assert (timer.key, timer.due_at, timer.fired_at, timer.payload) == ("complaint-1/resolution", due, late, {"n": 1})
    await database.dispose()


async def test_scheduling_the_same_timer_again_moves_it_and_cancel_removes_it(tmp_path):
    database = await migrated(tmp_path)
    fired = Fired()
    service = TimerService(database=database, handlers={"churn": fired}, metrics=ServiceMetrics("t"))
    now = utcnow()
    async with database.transaction() as session:
        await schedule_timer(session, kind="churn", key="c-1", due_at=now + timedelta(days=1), payload={})
        await schedule_timer(session, kind="churn", key="c-1", due_at=now + timedelta(days=3), payload={})
        await schedule_timer(session, kind="churn", key="c-2", due_at=now + timedelta(days=1), payload={})
        await cancel_timer(session, kind="churn", key="c-2")
    assert await service.next_due_at() == now + timedelta(days=3)
    assert await service.fire_due(now=now + timedelta(days=2)) == 0
    assert await service.fire_due(now=now + timedelta(days=4)) == 1
    assert [timer.key for timer in fired.timers] == ["c-1"]
    await database.dispose()


async def test_a_failing_handler_keeps_its_timer_for_a_retry_and_others_still_fire(tmp_path):
    database = await migrated(tmp_path)
    flaky, steady = Fired(fail_times=2), Fired()  # fails in the batch, then alone
    service = TimerService(database=database, handlers={"flaky": flaky, "steady": steady}, metrics=ServiceMetrics("t"),
                           retry_base_seconds=10)
    now = utcnow()
    async with database.transaction() as session:
        await schedule_timer(session, kind="flaky", key="a", due_at=now, payload={})
        await schedule_timer(session, kind="steady", key="b", due_at=now, payload={})
    await service.fire_due(now=now)
    assert [timer.key for timer in steady.timers] == ["b"] and flaky.timers == []
    async with database.sessions() as session:
        attempts, due_at = (await session.execute(sa.select(timers.c.attempts, timers.c.due_at))).one()
    assert attempts == 1 and due_at == now + timedelta(seconds=10)
    await service.fire_due(now=now + timedelta(seconds=10))
    assert [timer.key for timer in flaky.timers] == ["a"]
    await database.dispose()


async def test_the_loop_fires_a_due_timer_within_a_second(tmp_path):
    database = await migrated(tmp_path)
    fired = Fired()
    service = TimerService(database=database, handlers={"sla": fired}, metrics=ServiceMetrics("t"))
    database.after_commit.append(lambda info: info.get("timers_changed") and service.wake())
    loop = asyncio.create_task(service.run())
    due = utcnow() + timedelta(milliseconds=300)
    async with database.transaction() as session:
        await schedule_timer(session, kind="sla", key="k", due_at=due, payload={})
    for _ in range(50):
        if fired.timers:
            break
        await asyncio.sleep(0.05)
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop
    [timer] = fired.timers
    assert timedelta(0) <= timer.fired_at - due < timedelta(seconds=1)
    await database.dispose()


@pytest.mark.postgres
async def test_two_instances_on_postgresql_fire_each_timer_exactly_once(postgres_server):
    url = postgres_server.create_database(f"timers_{os.urandom(4).hex()}")
    first = Database(url, migrations=[COMMON_MIGRATIONS / "versions"])
    second = Database(url, migrations=[COMMON_MIGRATIONS / "versions"])
    await first.migrate()
    fired_by_first, fired_by_second = Fired(), Fired()
    services = [
        TimerService(database=first, handlers={"sla": fired_by_first}, metrics=ServiceMetrics("a"), batch_size=50),
        TimerService(database=second, handlers={"sla": fired_by_second}, metrics=ServiceMetrics("b"), batch_size=50),
    ]
    now = utcnow()
    async with first.transaction() as session:
        for number in range(500):
            await schedule_timer(session, kind="sla", key=f"complaint-{number}", due_at=now, payload={})
    while sum(await asyncio.gather(*(service.fire_due(now=now) for service in services))):
        pass
    keys = [timer.key for timer in fired_by_first.timers + fired_by_second.timers]
    assert sorted(keys) == sorted(f"complaint-{number}" for number in range(500))
    assert fired_by_first.timers and fired_by_second.timers, "both instances should have taken a share"
    await first.dispose()
    await second.dispose()


async def test_a_handler_that_sets_its_own_timer_again_keeps_the_new_one(tmp_path):
    database = await migrated(tmp_path)
    due = utcnow() + timedelta(minutes=1)

    async def next_threshold(delivery):
        await schedule_timer(delivery.session, kind="churn", key=delivery.timer.key,
                             due_at=delivery.timer.due_at + timedelta(days=30), payload={})

    service = TimerService(database=database, handlers={"churn": next_threshold}, metrics=ServiceMetrics("t"))
    async with database.transaction() as session:
        await schedule_timer(session, kind="churn", key="c-1", due_at=due, payload={})
    assert await service.fire_due(now=due) == 1
    async with database.sessions() as session:
        assert await session.scalar(sa.select(timers.c.due_at)) == due + timedelta(days=30)
    await database.dispose()


async def arm_many(database: Database, kind: str, keys: list[str], due) -> None:
    async with database.transaction() as session:
        for key in keys:
            await schedule_timer(session, kind=kind, key=key, due_at=due, payload={})


async def test_a_batch_with_a_failing_timer_fires_the_others_once_and_retries_only_that_one(tmp_path, database_url):
    database = await migrated(tmp_path, database_url)
    calls = []

    async def effect_unless_bad(delivery):
        calls.append(delivery.timer.key)
        await write_effect(delivery.session, delivery.timer.key)
        if delivery.timer.key == "k-3":
            raise RuntimeError("handler failed")

    service = TimerService(database=database, handlers={"sla": effect_unless_bad}, metrics=ServiceMetrics("t"), retry_base_seconds=10)
    now = utcnow()
    keys = [f"k-{number}" for number in range(6)]
    await arm_many(database, "sla", keys, now)
    assert await service.fire_due(now=now) == 6
    assert await committed_effects(database) == ["k-0", "k-1", "k-2", "k-4", "k-5"]  # the batch's try left nothing behind
    assert calls == keys[:4] + keys  # the batch up to the failure, then each alone
    async with database.sessions() as session:
        [(key, attempts, due_at)] = (await session.execute(
            sa.select(timers.c.key, timers.c.attempts, timers.c.due_at).where(timers.c.kind == "sla"))).all()
    assert (key, attempts, due_at) == ("k-3", 1, now + timedelta(seconds=10))
    text = generate_latest(service.metrics.registry).decode()
    assert 'pulse_timers_fired_total{kind="sla",service="t"} 5.0' in text
    await database.dispose()


async def test_a_batch_handler_gets_the_due_timers_of_its_kind_in_one_call(tmp_path, database_url):
    database = await migrated(tmp_path, database_url)
    batches = []

    async def fire(batch):
        batches.append([timer.key for timer in batch.timers])
        for timer in batch.timers:
            await write_effect(batch.session, timer.key)
        if "k-2" in [timer.key for timer in batch.timers]:
            raise RuntimeError("handler failed")

    service = TimerService(database=database, handlers={"sla": BatchTimerHandler(fire)}, metrics=ServiceMetrics("t"))
    now = utcnow()
    await arm_many(database, "sla", ["k-0", "k-1"], now)
    assert await service.fire_due(now=now) == 2
    assert batches == [["k-0", "k-1"]]
    await arm_many(database, "sla", ["k-2", "k-3", "k-4"], now)
    assert await service.fire_due(now=now) == 3
    assert batches[1:] == [["k-2", "k-3", "k-4"], ["k-2"], ["k-3"], ["k-4"]]
    assert await committed_effects(database) == ["k-0", "k-1", "k-3", "k-4"]
    await database.dispose()


async def test_on_sqlite_a_pass_with_nothing_due_does_not_wait_for_a_long_write_transaction(tmp_path):
    # A new calendar version recomputes every open complaint in one transaction; the timer loop
    # of the same database must go on looking (and sleeping) meanwhile, not queue for the lock.
    database = await migrated(tmp_path)
    service = TimerService(database=database, handlers={"sla": Fired()}, metrics=ServiceMetrics("t"))
    due = utcnow() + timedelta(minutes=5)
    async with database.transaction() as session:
        await schedule_timer(session, kind="sla", key="later", due_at=due, payload={})
    async with database.transaction() as writer:
        await schedule_timer(writer, kind="sla", key="being-written", due_at=due, payload={})  # holds the write lock
        # Bounded only so that the old behaviour fails here instead of after the 30 s busy timeout.
        assert await asyncio.wait_for(service.fire_due(now=due - timedelta(seconds=1)), 10) == 0
        assert await asyncio.wait_for(service.next_due_at(), 10) == due
    assert await service.fire_due(now=due) == 2
    await database.dispose()


async def test_a_pass_called_while_the_loop_is_mid_pass_returns_after_that_pass_committed(tmp_path, database_url):
    # On PostgreSQL the second pass would otherwise skip the locked timer and return at once, and a
    # caller reading afterwards (a test, an operator's command) would miss work still in flight.
    database = await migrated(tmp_path, database_url)
    entered, release = asyncio.Event(), asyncio.Event()

    async def held(delivery):
        entered.set()
        await release.wait()
        await write_effect(delivery.session, delivery.timer.key)

    service = TimerService(database=database, handlers={"held": held}, metrics=ServiceMetrics("t"))
    now = utcnow()
    async with database.transaction() as session:
        await schedule_timer(session, kind="held", key="k-1", due_at=now, payload={})
    first = asyncio.create_task(service.fire_due(now=now))
    await asyncio.wait_for(entered.wait(), 10)
    second = asyncio.create_task(service.fire_due(now=now))
    await asyncio.sleep(0.3)
    assert not second.done()
    release.set()
    assert (await first, await second) == (1, 0)
    assert await committed_effects(database) == ["k-1"]
    await database.dispose()
