"""Bulk rows (COPY on PostgreSQL) join the caller's transaction, fill server defaults, and fail as
an INSERT would, so that `write()` still runs a lost race again."""

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from services.common.bulk import COPY_FROM_ROWS, insert_rows, upsert_rows
from services.common.database import COMMON_MIGRATIONS, Database
from services.common.delivery_tables import outbox
from services.common.outbox import outbox_rows
from services.common.transactions import UNIQUE_VIOLATION, sqlstate
from tests.common.test_delivery import TOPICS, recorded

pytestmark = pytest.mark.postgres


@pytest.fixture
async def database(postgres_server):
    database = Database(postgres_server.create_database("bulk_rows"), migrations=[COMMON_MIGRATIONS / "versions"])
    await database.migrate()
    yield database
    await database.dispose()


def rows(count: int) -> list[dict]:
    return outbox_rows([(recorded(f"o-{number}"), TOPICS.purchases) for number in range(count)])


async def stored(database: Database) -> list:
    async with database.sessions() as session:
        return (await session.execute(sa.select(outbox.c.key, outbox.c.headers, outbox.c.txid, outbox.c.created_at).order_by(outbox.c.id))).all()


async def test_rows_go_in_the_callers_transaction_with_server_defaults(database):
    written = rows(COPY_FROM_ROWS)
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            await insert_rows(session, outbox, written)  # the first statement of its transaction
            raise RuntimeError("roll back")
    assert await stored(database) == []
    async with database.transaction() as session:
        await insert_rows(session, outbox, written)
    saved = await stored(database)
    assert [row.key for row in saved] == [row["key"] for row in written]
    assert saved[0].headers == written[0]["headers"] and saved[0].created_at == written[0]["created_at"]
    assert len({row.txid for row in saved}) == 1 and saved[0].txid is not None


async def test_a_duplicate_fails_as_a_unique_violation(database):
    written = rows(COPY_FROM_ROWS)
    async with database.transaction() as session:
        await insert_rows(session, outbox, written)
    with pytest.raises(DBAPIError) as raised:
        async with database.transaction() as session:
            await insert_rows(session, outbox, written)
    assert sqlstate(raised.value) == UNIQUE_VIOLATION


PLACES = sa.Table("bulk_places", sa.MetaData(), sa.Column("code", sa.String(10), primary_key=True),
                  sa.Column("visits", sa.Integer(), nullable=False), sa.Column("note", sa.JSON(), nullable=True),
                  sa.Column("label", sa.String(10), nullable=False, server_default="none"))


async def test_an_upsert_inserts_new_keys_and_overwrites_the_named_columns_of_known_ones(database):
    async with database.transaction() as session:
        await session.execute(sa.text("CREATE TABLE bulk_places (code varchar(10) PRIMARY KEY, visits integer NOT NULL, "
                                      "note json, label varchar(10) NOT NULL DEFAULT 'none')"))
        await session.execute(sa.insert(PLACES), [{"code": "p0", "visits": 7, "note": None, "label": "kept"}])
    first = [{"code": f"p{n}", "visits": n, "note": {"n": n}} for n in range(COPY_FROM_ROWS)]
    again = [{"code": f"p{n}", "visits": 100 + n, "note": None} for n in range(COPY_FROM_ROWS // 2, 2 * COPY_FROM_ROWS)]
    async with database.transaction() as session:
        await upsert_rows(session, PLACES, "code", first)
        await upsert_rows(session, PLACES, "code", again)
    async with database.sessions() as session:
        found = {row.code: row for row in await session.execute(sa.select(PLACES))}
    assert len(found) == 2 * COPY_FROM_ROWS
    assert found["p0"].visits == 0 and found["p0"].note == {"n": 0} and found["p0"].label == "kept"
    assert found["p1"].label == "none" and found[f"p{2 * COPY_FROM_ROWS - 1}"].visits == 99 + 2 * COPY_FROM_ROWS
    assert found[f"p{COPY_FROM_ROWS // 2}"].visits == 100 + COPY_FROM_ROWS // 2 and found[f"p{COPY_FROM_ROWS // 2}"].note is None
