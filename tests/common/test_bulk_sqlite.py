"""Bulk rows on SQLite go by the driver's executemany with the column types' conversions, and
store what SQLAlchemy's own executemany stores; they join the caller's transaction and fail as an
INSERT would."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from services.common.bulk import COPY_FROM_ROWS, execute_many, insert_rows
from services.common.database import COMMON_MIGRATIONS, Database
from services.common.delivery_tables import outbox
from tests.common.test_bulk import rows


@pytest.fixture
async def database(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/bulk.db", migrations=[COMMON_MIGRATIONS / "versions"])
    await database.migrate()
    yield database
    await database.dispose()


async def stored(database: Database) -> list:
    async with database.sessions() as session:
        return [tuple(row) for row in (await session.execute(sa.select(outbox).order_by(outbox.c.id))).all()]


async def stored_by_sqlalchemy(database: Database, written: list[dict], *, ids_of: list) -> list:
    """The table after SQLAlchemy's own executemany stores `written` instead, with the ids of `ids_of`."""
    async with database.transaction() as session:
        await session.execute(sa.delete(outbox))
        await session.execute(sa.insert(outbox), written)
    return [(old[0], *new[1:]) for old, new in zip(ids_of, await stored(database))]


async def test_rows_are_stored_as_sqlalchemys_executemany_stores_them_and_roll_back_with_the_caller(database):
    written = rows(COPY_FROM_ROWS)
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            await insert_rows(session, outbox, written)
            raise RuntimeError("roll back")
    assert await stored(database) == []
    async with database.transaction() as session:
        await insert_rows(session, outbox, written)
    by_driver = await stored(database)
    assert by_driver == await stored_by_sqlalchemy(database, written, ids_of=by_driver)
    assert by_driver[0][1] == written[0]["event_id"]


async def test_an_update_per_row_with_values_bound_in_the_statement_changes_each_row(database):
    written = rows(COPY_FROM_ROWS)
    async with database.transaction() as session:
        await insert_rows(session, outbox, written)
    sent_at = written[0]["created_at"] + timedelta(seconds=5)
    update = sa.update(outbox).where(outbox.c.event_id == sa.bindparam("row_event_id")).values(
        value=sa.bindparam("new_value"), sent_at=sent_at, headers=outbox.c.headers)
    async with database.transaction() as session:
        await execute_many(session, update, [{"row_event_id": row["event_id"], "new_value": f"v-{n}"} for n, row in enumerate(written)])
    async with database.sessions() as session:
        found = (await session.execute(sa.select(outbox.c.value, outbox.c.sent_at).order_by(outbox.c.id))).all()
    assert [tuple(row) for row in found] == [(f"v-{n}", sent_at) for n in range(len(written))]


async def test_a_duplicate_fails_as_an_insert_would(database):
    written = rows(COPY_FROM_ROWS)
    async with database.transaction() as session:
        await insert_rows(session, outbox, written)
    with pytest.raises(DBAPIError):
        async with database.transaction() as session:
            await insert_rows(session, outbox, written)
    assert len(await stored(database)) == len(written)


async def test_rows_that_leave_out_different_columns_are_stored_as_sqlalchemy_stores_them(database):
    written = rows(COPY_FROM_ROWS)
    written = [{**row, "sent_at": row["created_at"]} if n % 2 else row for n, row in enumerate(written)]
    async with database.transaction() as session:
        await insert_rows(session, outbox, written)
    by_bulk = await stored(database)
    assert by_bulk == await stored_by_sqlalchemy(database, written, ids_of=by_bulk)


async def test_a_row_without_a_column_the_first_row_has_is_refused_as_sqlalchemy_refuses_it(database):
    written = rows(COPY_FROM_ROWS)
    written[0] = {**written[0], "sent_at": written[0]["created_at"]}
    with pytest.raises(sa.exc.StatementError):
        async with database.transaction() as session:
            await insert_rows(session, outbox, written)
    assert await stored(database) == []
