"""Many rows into one table inside the caller's transaction, without per-row statement work.

On PostgreSQL the rows go by COPY (binary), on SQLite by the driver's executemany: SQLAlchemy's
executemany builds and binds every row's parameters in Python, which cost more CPU than anything
else a 5,000-item batch did (`execute_many` does the same for any statement on SQLite). Column types
still convert the values (JSON to text, datetimes to UTC), columns left out take their server
defaults (the outbox's `txid`), and constraints hold as for INSERT; a violation is raised as
SQLAlchemy's DBAPIError, so that `transactions.write` still runs a lost race again."""

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
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        await execute_many(session, sa.insert(table), rows)
        return
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
    converters = [(name, table.c[name].type.bind_processor(connection.dialect)) for name in columns]
    records = [tuple(row[name] if to is None or row[name] is None else to(row[name]) for name, to in converters) for row in rows]
    try:
        await driver.copy_records_to_table(table.name, records=records, columns=columns)
    except asyncpg.PostgresError as error:
        raise DBAPIError(f"COPY {table.name}", None, error) from None


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
