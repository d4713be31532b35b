"""Many rows into one table inside the caller's transaction, without per-row statement work.

On PostgreSQL the rows go by COPY (binary), or, where a conflict must be skipped or turned into an
update, as one INSERT ... SELECT FROM unnest() of one array per column: SQLAlchemy's executemany
builds and binds every row's parameters in Python, which cost more CPU than anything else a
5,000-item batch did. Column types still convert the values (JSON to text, datetimes to UTC),
columns left out take their server defaults (the outbox's `txid`), and constraints hold as for
INSERT; a violation is raised as SQLAlchemy's DBAPIError, so that `transactions.write` still runs a
lost race again. Elsewhere (SQLite) the same calls are SQLAlchemy statements.

`among` asks for rows whose column is one of many values with one bound array on PostgreSQL
(`= ANY`): an IN list is rendered, and planned by the server, anew for every length."""

from collections.abc import Iterable, Iterator

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

# COPY costs round trips of its own (the table's column types, the copy protocol): below this many
# rows a plain INSERT is cheaper, e.g. the one row of a single write.
COPY_FROM_ROWS = 50
# SQLite binds at most 32,766 values a statement; an IN list there stays well below.
VALUES_PER_IN_LIST = 1000


async def insert_rows(session: AsyncSession, table: sa.Table, rows: list[dict]) -> None:
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name != "postgresql" or len(rows) < COPY_FROM_ROWS:
        await session.execute(sa.insert(table), rows)
        return
    driver = await _driver_in_transaction(session)
    if driver is None:
        await session.execute(sa.insert(table), rows)  # autocommit: no transaction to join
        return
    columns = list(rows[0])
    converters = [(name, table.c[name].type.bind_processor(connection.dialect)) for name in columns]
    records = [tuple(row[name] if to is None or row[name] is None else to(row[name]) for name, to in converters) for row in rows]
    try:
        await driver.copy_records_to_table(table.name, records=records, columns=columns)
    except asyncpg.PostgresError as error:
        raise DBAPIError(f"COPY {table.name}", None, error) from None


async def insert_new_rows(session: AsyncSession, table: sa.Table, rows: list[dict]) -> None:
    """Inserts the rows whose keys are not there yet (ON CONFLICT DO NOTHING); all rows name the
    same columns."""
    if not rows:
        return
    if not await _unnest_insert(session, table, rows, "ON CONFLICT DO NOTHING"):
        await session.execute(_dialect_insert(session, table).on_conflict_do_nothing(), rows)


async def upsert_rows(session: AsyncSession, table: sa.Table, key: str, rows: list[dict]) -> None:
    """Inserts the rows, or overwrites the columns they name where their key exists; one row a key."""
    if not rows:
        return
    columns = [name for name in rows[0] if name != key]
    preparer = (await session.connection()).dialect.identifier_preparer
    updates = ", ".join(f"{preparer.quote(name)} = EXCLUDED.{preparer.quote(name)}" for name in columns)
    if await _unnest_insert(session, table, rows, f"ON CONFLICT ({preparer.quote(key)}) DO UPDATE SET {updates}"):
        return
    statement = _dialect_insert(session, table)
    await session.execute(statement.on_conflict_do_update(
        index_elements=[key], set_={name: statement.excluded[name] for name in columns}), rows)


def among(session: AsyncSession, column: sa.Column, values: list) -> sa.ColumnElement[bool]:
    """`column` is one of `values`: one array parameter on PostgreSQL, an IN list elsewhere (keep
    those to `in_lists`)."""
    if session.bind.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def in_lists(session: AsyncSession, values: list) -> Iterator[list]:
    """The values in as few lists as one `among` may take: all at once on PostgreSQL."""
    if session.bind.dialect.name == "postgresql":
        if values:
            yield list(values)
        return
    for start in range(0, len(values), VALUES_PER_IN_LIST):
        yield values[start:start + VALUES_PER_IN_LIST]


def _dialect_insert(session: AsyncSession, table: sa.Table):
    return (sqlite if session.bind.dialect.name == "sqlite" else postgresql).insert(table)


async def _unnest_insert(session: AsyncSession, table: sa.Table, rows: list[dict], conflict: str) -> bool:
    """INSERT ... SELECT FROM unnest(one array per column) `conflict`; False where not PostgreSQL
    or outside a transaction, for the caller to do it otherwise."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return False
    driver = await _driver_in_transaction(session)
    if driver is None:
        return False
    dialect, preparer = connection.dialect, connection.dialect.identifier_preparer
    columns = list(rows[0])
    arrays, casts = [], []
    for number, name in enumerate(columns, start=1):
        column_type = table.c[name].type
        to = column_type.bind_processor(dialect)
        arrays.append([row[name] for row in rows] if to is None else
                      [None if row[name] is None else to(row[name]) for row in rows])
        casts.append(f"${number}::{column_type.compile(dialect)}[]")
    statement = (f"INSERT INTO {preparer.format_table(table)} ({', '.join(preparer.quote(name) for name in columns)}) "
                 f"SELECT * FROM unnest({', '.join(casts)}) {conflict}")
    try:
        await driver.execute(statement, *arrays)
    except asyncpg.PostgresError as error:
        raise DBAPIError(f"INSERT {table.name}", None, error) from None
    return True


async def _driver_in_transaction(session: AsyncSession) -> "asyncpg.Connection | None":
    """The asyncpg connection under the session, in the session's transaction (None: autocommit)."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy begins on the first statement it runs; a statement on the driver would run outside.
        await session.execute(sa.text("SELECT 1"))
    return driver if driver.is_in_transaction() else None
