"""Async database access for SQLite (embedded) and PostgreSQL (distributed), with migrations."""

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

COMMON_MIGRATIONS = Path(__file__).parent / "migrations"

# Alembic's `op` and `context` are process-wide proxies: two upgrades interleaving on one event loop
# (the embedded stack starts four services at once) would run one database's revisions on another's
# connection. So one upgrade at a time per event loop; the loops of tests come and go, hence weak keys.
_UPGRADE_LOCKS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]" = weakref.WeakKeyDictionary()


def _json_text(value) -> str:
    # The models' numbers may be numpy's (fits, predictions): the standard library wrote them as floats.
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


# JSON columns (the outbox's headers, timer payloads) by orjson: a batch writes thousands of them.
_JSON_CODEC = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def _one_upgrade_at_a_time() -> asyncio.Lock:
    return _UPGRADE_LOCKS.setdefault(asyncio.get_running_loop(), asyncio.Lock())


PROBE = "pulse_probe"


def _prepare_sqlite(engine: AsyncEngine) -> None:
    # pysqlite's own transaction handling starts deferred transactions that fail with
    # "database is locked" when two writers upgrade at once; we begin IMMEDIATE ourselves.
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection):
        # A probe only reads: a deferred transaction reads a snapshot and never waits for the writers.
        mode = "DEFERRED" if connection.get_execution_options().get(PROBE) else "IMMEDIATE"
        connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One service's database: an engine, sessions, and that service's migrations.

    Engines hide statement parameters in their errors (`hide_parameters`): they hold personal data,
    and an error's text may reach a log line."""

    def __init__(self, url: str, *, migrations: list[Path], pool_size: int = 20):
        self.url = url
        self.migrations = migrations
        if url.startswith("sqlite"):
            database_file = url.split("///", 1)[-1]
            if database_file and database_file != ":memory:":
                Path(database_file).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True, **_JSON_CODEC)
            _prepare_sqlite(self.engine)
        else:
            # asyncpg prepares every statement; after five runs PostgreSQL may switch to a generic
            # plan, which for `IN (…500 ids…)` lookups was a sequential scan. Custom plans stay indexed.
            server_settings = {"plan_cache_mode": "force_custom_plan"}
            self.engine = create_async_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800,
                connect_args={"server_settings": server_settings}, hide_parameters=True, **_JSON_CODEC,
            )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.after_commit: list[Callable[[dict], None]] = []

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits when the block ends and rolls back if it raises.

        After a commit the hooks see the session's `info`, e.g. to wake the outbox relay."""
        async with self.sessions() as session:
            async with session.begin():
                yield session
            for hook in self.after_commit:
                hook(session.info)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A session that only reads. On SQLite it reads a snapshot (BEGIN DEFERRED) and never waits
        for the one writer, who may hold the lock for a long transaction (a new calendar version
        recomputing every open complaint); elsewhere it is a plain session."""
        async with self.sessions() as session:
            await session.connection(execution_options={PROBE: True})
            yield session

    async def answers(self) -> None:
        """Raises unless the database answers a query; never waits for a writer's lock."""
        async with self.engine.connect() as connection:
            await (await connection.execution_options(**{PROBE: True})).exec_driver_sql("SELECT 1")

    async def session_lock_connection(self):
        """A connection of its own for holding session advisory locks: in autocommit, so it never
        sits idle inside a transaction for the hours it may hold a lock."""
        connection = await self.engine.connect()
        return await connection.execution_options(isolation_level="AUTOCOMMIT")

    async def migrate(self) -> None:
        async with _one_upgrade_at_a_time(), self.engine.begin() as connection:
            if self.is_postgres:
                # Several instances may start at once; one migrates while the others wait.
                await connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7070)")
            await connection.run_sync(self._upgrade)

    def _upgrade(self, connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(COMMON_MIGRATIONS))
        config.set_main_option("version_locations", " ".join(str(path) for path in self.migrations))
        config.set_main_option("path_separator", "space")
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")

    async def dispose(self) -> None:
        await self.engine.dispose()
