"""Many rows into one table inside the caller's transaction, without per-row statement work.

SQLAlchemy's executemany builds and binds every row's parameters in Python, which cost more CPU
than anything else a 5,000-item batch did. So on PostgreSQL rows go by COPY (binary), or, where a
conflict must be skipped or turned into an update, as one INSERT ... SELECT FROM unnest() of one
array per column; on SQLite by the driver's executemany (`execute_many` does the same for any
statement there). Column types still convert the values (JSON to text, datetimes to UTC), columns
left out take their server defaults (the outbox's `txid`), and constraints hold as for INSERT; a
violation is raised as SQLAlchemy's DBAPIError, so that `transactions.write` still runs a lost race
again.

`any_of` asks for rows whose column is one of many values: one bound array on PostgreSQL
(`= ANY`), since an IN list is rendered, bound value by value, and planned anew for every length."""

from collections.abc import Iterator

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

# COPY and the driver's executemany cost round trips or set-up of their own: below this many rows
# a plain statement is cheaper, e.g. the one row of a single write.
COPY_FROM_ROWS = 50
# SQLite takes a list of values as `IN (?, ?, …)`, one parameter each; chunks keep each statement small.
SQLITE_CHUNK = 500


def on_postgres(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "postgresql"


def any_of(session: AsyncSession, column: sa.ColumnElement, values) -> Iterator[sa.ColumnElement[bool]]:
    """`column` is one of `values`, as conditions that together cover them all, one statement each:
    one on PostgreSQL, IN lists of `SQLITE_CHUNK` elsewhere. Values come distinct and sorted, so
    that rows locked by the statements are locked in one order."""
    ordered = sorted(set(values))
    if not ordered:
        return
    if on_postgres(session):
        yield column == sa.any_(sa.bindparam(None, ordered, type_=postgresql.ARRAY(column.type)))
        return
    for start in range(0, len(ordered), SQLITE_CHUNK):
        yield column.in_(ordered[start:start + SQLITE_CHUNK])


async def insert_rows(session: AsyncSession, table: sa.Table, rows: list[dict]) -> None:
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        await execute_many(session, sa.insert(table), rows)
        return
    driver = await _driver_in_transaction(session) if len(rows) >= COPY_FROM_ROWS and on_postgres(session) else None
    if driver is None:
        await session.execute(sa.insert(table), rows)
        return
    columns = list(rows[0])
    records = list(zip(*(_column_values(rows, name, table.c[name].type.bind_processor(connection.dialect)) for name in columns)))
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


async def execute_many(session: AsyncSession, statement, rows: list[dict]) -> None:
    """`session.execute(statement, rows)`, the statement once per row; on SQLite the driver's
    executemany gets the rows' values converted once each by their bind types (constants bound in
    the statement taken as they are), without SQLAlchemy's per-row parameter work."""
    connection = await session.connection()
    keys = rows[0].keys()
    # Rows of different keys are SQLAlchemy's to sort out (it refuses a row without a key of the first).
    if connection.dialect.name != "sqlite" or len(rows) < COPY_FROM_ROWS or any(row.keys() != keys for row in rows):
        await session.execute(statement, rows, execution_options={"synchronize_session": False})
        return
    compiled = statement.compile(dialect=connection.dialect, column_keys=list(keys))
    constants = compiled.construct_params(rows[0])  # the values bound in the statement itself
    converters = [(name, compiled.binds[name].type.bind_processor(connection.dialect)) for name in compiled.positiontup]
    records = []
    for row in rows:
        values = (row[name] if name in keys else constants[name] for name, _ in converters)
        records.append(tuple(value if to is None or value is None else to(value) for (_, to), value in zip(converters, values)))
    await connection.exec_driver_sql(compiled.string, records)


def _column_values(rows: list[dict], name: str, convert) -> list:
    """One column's values, converted by its type: column by column, so that most columns (which
    need no conversion) cost one list comprehension and no per-value call."""
    values = [row[name] for row in rows]
    if convert is None:
        return values
    return [None if value is None else convert(value) for value in values]


def _dialect_insert(session: AsyncSession, table: sa.Table):
    return (sqlite if session.bind.dialect.name == "sqlite" else postgresql).insert(table)


async def _unnest_insert(session: AsyncSession, table: sa.Table, rows: list[dict], conflict: str) -> bool:
    """INSERT ... SELECT FROM unnest(one array per column) `conflict`; False where not PostgreSQL
    or outside a transaction, for the caller to do it otherwise."""
    if not on_postgres(session):
        return False
    driver = await _driver_in_transaction(session)
    if driver is None:
        return False
    connection = await session.connection()
    dialect, preparer = connection.dialect, connection.dialect.identifier_preparer
    columns = list(rows[0])
    arrays = [_column_values(rows, name, table.c[name].type.bind_processor(dialect)) for name in columns]
    casts = [f"${number}::{table.c[name].type.compile(dialect)}[]" for number, name in enumerate(columns, start=1)]
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
