"""Many rows into one table inside the caller's transaction, without per-row statement work.

On PostgreSQL the rows go by COPY (binary): SQLAlchemy's executemany builds and binds every row's
parameters in Python, which cost more CPU than anything else a 5,000-item batch did. Column types
still convert the values (JSON to text, datetimes to UTC), columns left out take their server
defaults (the outbox's `txid`), and constraints hold as for INSERT; a violation is raised as
SQLAlchemy's DBAPIError, so that `transactions.write` still runs a lost race again."""

from collections.abc import Iterator

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession


# COPY costs round trips of its own (the table's column types, the copy protocol): below this many
# rows a plain INSERT is cheaper, e.g. the one row of a single write.
COPY_FROM_ROWS = 50
# SQLite takes a list of values as `IN (?, ?, …)`, one parameter each; chunks keep each statement small.
SQLITE_CHUNK = 500


def on_postgres(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "postgresql"


def any_of(session: AsyncSession, column: sa.ColumnElement, values) -> Iterator[sa.ColumnElement[bool]]:
    """`column` is one of `values`, as conditions that together cover them all, each for one statement.

    PostgreSQL gets one condition, `= ANY($1)` with the values as one array parameter: an `IN (…)`
    list has SQLAlchemy render and bind a parameter per value, which cost a 5,000-item batch more
    CPU than its look-ups themselves. Values come distinct and sorted (in chunks elsewhere)."""
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
    if connection.dialect.name != "postgresql" or len(rows) < COPY_FROM_ROWS:
        await session.execute(sa.insert(table), rows)
        return
    driver = (await connection.get_raw_connection()).driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy begins on the first statement it runs; COPY on the driver would run outside.
        await session.execute(sa.text("SELECT 1"))
    if not driver.is_in_transaction():
        await session.execute(sa.insert(table), rows)  # autocommit: no transaction to join
        return
    columns = list(rows[0])
    records = list(zip(*(_column_values(rows, name, table.c[name].type.bind_processor(connection.dialect)) for name in columns)))
    try:
        await driver.copy_records_to_table(table.name, records=records, columns=columns)
    except asyncpg.PostgresError as error:
        raise DBAPIError(f"COPY {table.name}", None, error) from None


def _column_values(rows: list[dict], name: str, convert) -> list:
    """One column's values, converted by its type: column by column, so that most columns (which
    need no conversion) cost one list comprehension and no per-value call."""
    values = [row[name] for row in rows]
    if convert is None:
        return values
    return [None if value is None else convert(value) for value in values]
