"""The consumer's error paths in process, on SQLite: what is transient, what is poison, what a dead
letter says (class and codes, never values), that it is recorded once, and the inbox purge."""

import logging
import socket
from datetime import timedelta

import asyncpg.exceptions
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from services.common.bus import InProcessBus
from services.common.catalog import PurchaseRecorded
from services.common.consumers import EventConsumer
from services.common.database import COMMON_MIGRATIONS, Database
from services.common.delivery_tables import dead_letters, inbox
from services.common.events import Message
from services.common.failures import DeliverAgain, is_transient
from services.common.inbox import mark_processed, purge_inbox
from services.common.kafka_bus import KafkaBus
from services.common.observability import ServiceMetrics
from services.common.settings import Topics
from services.common.timeutil import utcnow
from tests.harness import profiles_service, settings_for_tests
from tests.integration.kafka_tools import eventually
from tests.integration.poison import poison_records, purchase_message

TOPICS = Topics()
PERSONAL = "陈晓 13800138000 chen.xiao@example.com 北京市朝阳区"


async def migrated(tmp_path, name: str = "consumer") -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / name}.db", migrations=[COMMON_MIGRATIONS / "versions"])
    await database.migrate()
    return database


def good(order_id: str) -> Message:
    return purchase_message(TOPICS.purchases, order_id)


class Recorder:
    def __init__(self, fail_with: dict[str, Exception] | None = None):
        self.fail_with = fail_with or {}
        self.seen: list[str] = []

    async def __call__(self, delivery, payload) -> None:
        if payload.order_id in self.fail_with:
            raise self.fail_with[payload.order_id]
        self.seen.append(payload.order_id)


class DlqReader:
    def __init__(self, bus: InProcessBus):
        self.messages: list[Message] = []
        bus.subscribe("dlq-reader", [f"{TOPICS.purchases}.dlq"], self.read)

    async def read(self, messages: list[Message]) -> None:
        self.messages.extend(messages)


def consumer_for(database, bus, handler, **options) -> EventConsumer:
    return EventConsumer(name="tester", handlers={PurchaseRecorded.event_type: handler}, database=database, bus=bus,
                         topics=TOPICS, metrics=ServiceMetrics("tester"), max_attempts=2, retry_base_seconds=0.001,
                         **options)


async def letters(database) -> list[str]:
    async with database.sessions() as session:
        return list(await session.scalars(sa.select(dead_letters.c.error).order_by(dead_letters.c.id)))


# --- what is transient ----------------------------------------------------------------------------

async def test_database_is_locked_on_sqlite_is_transient_and_a_constraint_or_a_missing_table_is_not(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'locks.db'}"
    holder, waiter = create_async_engine(url), create_async_engine(url, connect_args={"timeout": 0.05})
    try:
        async with holder.connect() as connection:
            await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            await connection.commit()
            await connection.exec_driver_sql("INSERT INTO t VALUES (1)")  # holds the write lock
            with pytest.raises(Exception) as locked:
                async with waiter.begin() as other:
                    await other.exec_driver_sql("INSERT INTO t VALUES (2)")
            await connection.commit()
        async with waiter.begin() as other:
            with pytest.raises(Exception) as duplicate:
                await other.exec_driver_sql("INSERT INTO t VALUES (1)")
        async with waiter.begin() as other:
            with pytest.raises(Exception) as missing:
                await other.exec_driver_sql("SELECT * FROM nowhere")
    finally:
        await holder.dispose()
        await waiter.dispose()
    assert "locked" in str(locked.value)
    assert is_transient(locked.value)
    assert not is_transient(duplicate.value)
    assert not is_transient(missing.value)


@pytest.mark.parametrize("error", [
    asyncpg.exceptions.SerializationError("x"), asyncpg.exceptions.DeadlockDetectedError("x"),
    asyncpg.exceptions.LockNotAvailableError("x"), asyncpg.exceptions.AdminShutdownError("x"),
    asyncpg.exceptions.CannotConnectNowError("x"), asyncpg.exceptions.ConnectionDoesNotExistError("x"),
    asyncpg.exceptions.QueryCanceledError("x"), ConnectionRefusedError(111, "refused"), TimeoutError(),
    sa.exc.OperationalError("SELECT 1", {}, Exception("gone"), connection_invalidated=True),
    sa.exc.TimeoutError("pool exhausted"),
], ids=type)
def test_passing_failures_are_transient_also_when_wrapped(error):
    assert is_transient(error)
    try:
        try:
            raise error
        except Exception as inner:
            raise RuntimeError("the handler's own wrapping") from inner
    except RuntimeError as wrapped:
        assert is_transient(wrapped)


@pytest.mark.parametrize("error", [
    asyncpg.exceptions.UniqueViolationError("x"), asyncpg.exceptions.NotNullViolationError("x"),
    asyncpg.exceptions.UndefinedTableError("x"), ValueError("x"), KeyError("x"),
    sa.exc.IntegrityError("INSERT", {}, Exception("duplicate")),
], ids=type)
def test_errors_of_the_record_itself_are_not_transient(error):
    assert not is_transient(error)


# --- poison records -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(poison_records(TOPICS.purchases)))
async def test_a_poison_record_is_dead_lettered_at_once_with_its_reason_and_the_next_record_goes_on(tmp_path, kind):
    poison, code, reason = poison_records(TOPICS.purchases)[kind]
    database = await migrated(tmp_path)
    bus = InProcessBus()
    dlq = DlqReader(bus)
    handler = Recorder()
    consumer = consumer_for(database, bus, handler)
    await consumer.handle_batch([good("before"), poison, good("after")])
    assert handler.seen == ["before", "after"]
    [letter] = dlq.messages
    assert letter.header("error.code") == code
    assert letter.header("error.reason") == reason
    assert letter.value == poison.value and letter.key == poison.key
    assert await letters(database) == [letter.header("error.type") + ": " + code + (f" reason={reason}" if reason else "")
                                       + (f" field={letter.header('error.field')}" if letter.header("error.field") else "")]
    await database.dispose()


async def test_a_dead_letter_is_recorded_once_however_often_its_record_comes_back(tmp_path):
    database = await migrated(tmp_path)
    bus = InProcessBus()
    dlq = DlqReader(bus)
    consumer = consumer_for(database, bus, Recorder(fail_with={"bad": ValueError("no")}))
    undecodable = Message(TOPICS.purchases, b"c-1", b"{not json", good("x").headers)
    failing = good("bad")
    for _ in range(3):
        await consumer.handle_batch([undecodable, failing, good("ok")])
    assert len(await letters(database)) == 2
    assert len(dlq.messages) == 2
    await database.dispose()


# --- what a dead letter says ----------------------------------------------------------------------

async def test_dlq_headers_the_error_column_and_the_logs_carry_class_and_codes_never_values(tmp_path, caplog):
    database = await migrated(tmp_path)
    bus = InProcessBus()
    dlq = DlqReader(bus)

    async def violates_a_constraint(delivery, payload) -> None:
        # A real constraint violation whose SQL parameters hold personal data.
        await mark_processed(delivery.session, consumer=PERSONAL[:30], event_id="same")
        await mark_processed(delivery.session, consumer=PERSONAL[:30], event_id="same")

    consumer = consumer_for(database, bus, violates_a_constraint)
    caplog.set_level(logging.INFO)  # the services log at INFO; aiosqlite logs SQL at DEBUG
    message = good("o-1")
    await consumer.handle_batch([message])
    [letter] = dlq.messages
    error_headers = {name: value.decode() for name, value in letter.headers if name.startswith("error.")}
    assert error_headers.pop("error.failed_at")
    assert error_headers == {
        "error.code": "handler_failed", "error.type": "IntegrityError", "error.db_code": "SQLITE_CONSTRAINT_PRIMARYKEY",
        "error.consumer": "tester", "error.topic": TOPICS.purchases,
    }
    [column] = await letters(database)
    assert column == "IntegrityError: handler_failed db_code=SQLITE_CONSTRAINT_PRIMARYKEY"
    said = " ".join([column, *error_headers.values(), *(record.getMessage() for record in caplog.records)])
    for value in PERSONAL.split():
        assert value not in said
    await database.dispose()


async def test_a_handler_error_message_with_personal_data_stays_out_of_headers_column_and_logs(tmp_path, caplog):
    database = await migrated(tmp_path)
    bus = InProcessBus()
    dlq = DlqReader(bus)
    consumer = consumer_for(database, bus, Recorder(fail_with={"o-1": ValueError(f"cannot handle {PERSONAL}")}))
    caplog.set_level(logging.INFO)  # the services log at INFO; aiosqlite logs SQL at DEBUG
    await consumer.handle_batch([good("o-1")])
    [letter] = dlq.messages
    said = " ".join([*(await letters(database)), *(value.decode() for name, value in letter.headers if name.startswith("error.")),
                     *(record.getMessage() for record in caplog.records)])
    assert "ValueError" in said and "handler_failed" in said
    for value in PERSONAL.split():
        assert value not in said
    await database.dispose()


# --- back-off -------------------------------------------------------------------------------------

async def test_the_back_off_of_a_passing_failure_doubles_up_to_its_cap_and_starts_again_after_a_success(tmp_path):
    database = await migrated(tmp_path)
    flaky = Recorder(fail_with={"o-1": ConnectionError("database away")})
    consumer = consumer_for(database, InProcessBus(), flaky, backoff_max_seconds=0.01)
    undecodable = Message(TOPICS.purchases, b"c-1", b"{not json", good("x").headers)
    delays = []
    for _ in range(6):
        with pytest.raises(DeliverAgain) as again:
            await consumer.handle_batch([undecodable, good("o-1")])
        assert again.value.done == 1  # the dead letter is committed; only the rest comes again
        delays.append(again.value.delay_seconds)
    assert delays == [0.001, 0.002, 0.004, 0.008, 0.01, 0.01]
    flaky.fail_with.clear()
    await consumer.handle_batch([good("o-1")])
    flaky.fail_with["o-2"] = ConnectionError("database away")
    with pytest.raises(DeliverAgain) as again:
        await consumer.handle_batch([good("o-2")])
    assert again.value.delay_seconds == 0.001
    assert await letters(database) == ["Undecodable: undecodable reason=bad_json"]
    await database.dispose()


# --- inbox retention ------------------------------------------------------------------------------

async def test_purge_inbox_forgets_ids_older_than_the_retention_only(tmp_path):
    database = await migrated(tmp_path)
    now = utcnow()
    async with database.transaction() as session:
        await session.execute(sa.insert(inbox), [
            {"consumer": "tester", "event_id": f"old-{n}", "processed_at": now - timedelta(days=8)} for n in range(25)
        ] + [{"consumer": "tester", "event_id": "recent", "processed_at": now - timedelta(days=6)}])
    assert await purge_inbox(database, now - timedelta(days=7), batch_size=10) == 25
    async with database.sessions() as session:
        assert list(await session.scalars(sa.select(inbox.c.event_id))) == ["recent"]
    await database.dispose()


# --- topic creation reaches readiness -------------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as probe:  # a port with nothing behind it
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_kafka_bus_health_says_why_topics_are_not_there_yet():
    bus = KafkaBus(bootstrap=f"127.0.0.1:{_closed_port()}", client_id="t", topics=["pulse.purchases"], retry_seconds=0.1)
    assert bus.health() == {"kafka_topics": "failing: not created yet"}
    await bus.start()
    try:
        assert await eventually(lambda: _said_failing_with_a_class(bus), timeout=30)
    finally:
        await bus.stop()
    assert InProcessBus().health() == {}


async def _said_failing_with_a_class(bus: KafkaBus) -> bool:
    return bus.health()["kafka_topics"].startswith("failing: Kafka")


async def test_readyz_is_not_ready_while_the_kafka_topics_cannot_be_created(tmp_path):
    settings = settings_for_tests(tmp_path, bus="kafka", kafka_bootstrap=f"127.0.0.1:{_closed_port()}")
    async with profiles_service(settings) as profiles:
        async def says_why() -> bool:
            answer = await profiles.client.get("/readyz")
            return answer.status_code == 503 and answer.json()["checks"]["kafka_topics"].startswith("failing: Kafka")
        assert await eventually(says_why, timeout=30)
        assert (await profiles.client.get("/readyz")).json()["checks"]["database"] == "ok"
