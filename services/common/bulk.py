"""Many rows into one table inside the caller's transaction, without per-row statement work.

On PostgreSQL the rows go by COPY (binary): SQLAlchemy's executemany builds and binds every row's
parameters in Python, which cost more CPU than anything else a 5,000-item batch did. Column types
still convert the values (JSON to text, datetimes to UTC), columns left out take their server
defaults (the outbox's `txid`), and constraints hold as for INSERT; a violation is raised as
SQLAlchemy's DBAPIError, so that `transactions.write` still runs a lost race again. An upsert
goes the same way through a temporary table."""

import asyncpg
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession


# COPY costs round trips of its own (the table's column types, the copy protocol): below this many
# rows a plain INSERT is cheaper, e.g. the one row of a single write.
COPY_FROM_ROWS = 50


async def insert_rows(session: AsyncSession, table: sa.Table, rows: list[dict]) -> None:
    if not rows:
        return
    driver = await _copying_driver(session, rows)
    if driver is None:
        await session.execute(sa.insert(table), rows)
    else:
        await _copy(session, driver, table, rows, into=table.name)


async def upsert_rows(session: AsyncSession, table: sa.Table, key: str, rows: list[dict], *, fallback) -> None:
    """Inserts the rows, or overwrites the columns they name where their key exists. On PostgreSQL
    a large batch goes by COPY into a temporary table and one INSERT ... SELECT ... ON CONFLICT;
    otherwise `fallback(session, table, key, rows)` (the dialect's multi-row upsert) runs."""
    driver = await _copying_driver(session, rows)
    if driver is None:
        await fallback(session, table, key, rows)
        return
    staging = f"pulse_staging_{table.name}"
    # Private to the connection, without the table's constraints (columns the rows leave out stay
    # NULL there); emptied at every commit, and before use in case of an earlier batch.
    await session.execute(sa.text(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS "
                                  f"AS SELECT * FROM {table.name} WITH NO DATA"))
    await session.execute(sa.text(f"TRUNCATE {staging}"))
    await _copy(session, driver, table, rows, into=staging)
    columns = ", ".join(f'"{name}"' for name in rows[0])
    updates = ", ".join(f'"{name}" = EXCLUDED."{name}"' for name in rows[0] if name != key)
    await session.execute(sa.text(f'INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {staging} '
                                  f'ON CONFLICT ("{key}") DO UPDATE SET {updates}'))


async def _copying_driver(session: AsyncSession, rows: list[dict]):
    """The asyncpg connection inside the session's transaction when COPY pays, else None."""
    if not rows:
        return None
    connection = await session.connection()
    if connection.dialect.name != "postgresql" or len(rows) < COPY_FROM_ROWS:
        return None
    driver = (await connection.get_raw_connection()).driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy begins on the first statement it runs; COPY on the driver would run outside.
        await session.execute(sa.text("SELECT 1"))
    return driver if driver.is_in_transaction() else None  # autocommit: no transaction to join


async def _copy(session: AsyncSession, driver, table: sa.Table, rows: list[dict], *, into: str) -> None:
    """COPY (binary) of the rows, converted by `table`'s column types, into the table named `into`."""
    dialect = (await session.connection()).dialect
    columns = list(rows[0])
    converters = [(name, table.c[name].type.bind_processor(dialect)) for name in columns]
    records = [tuple(row[name] if to is None or row[name] is None else to(row[name]) for name, to in converters) for row in rows]
    try:
        await driver.copy_records_to_table(into, records=records, columns=columns)
    except asyncpg.PostgresError as error:
        raise DBAPIError(f"COPY {into}", None, error) from None
